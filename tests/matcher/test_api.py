"""The matcher app in-process on real Redis and a real database: preview, review queue, read model."""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient
from faststream.redis import RedisBroker
from sqlmodel import Session, func, select

from services.matcher.app import create_app
from services.matcher.config import MatcherSettings
from services.matcher.models import Assignment, RoutingDecision
from services.matcher.service import flows
from shared.contracts.events import CatalogChanged, Streams, event_to_payload
from shared.platform.db import unit_of_work
from shared.platform.outbox import OutboxEvent
from tests.matcher.catalog_stub import CatalogStub
from tests.matcher.fakes import make_snapshot, submitted
from tests.support.eventually import eventually

pytestmark = pytest.mark.timeout(60)

BODY = {
    "needs": ["pfmp"], "jobs": ["boulanger"], "location": {"postal_code": "69007"},
    "company_name": "Boulangerie du Rhône", "contact": {"name": "Camille Martin", "email": "camille@boulangerie.test"},
}


@pytest.fixture
def stub():
    with CatalogStub(make_snapshot()) as stub:
        yield stub


def settings_for(tmp_path, redis_url, stub, **kw) -> MatcherSettings:
    return MatcherSettings(
        env="test", redis_url=redis_url, database_url=f"sqlite:///{tmp_path}/{{service}}.db", var_dir=tmp_path / "var",
        catalog_url=stub.url, admin_token="jeton-admin", catalog_refresh_debounce_s=0.1, **kw,
    )


@pytest.fixture
def client(tmp_path, redis_url, stub):
    app = create_app(settings_for(tmp_path, redis_url, stub))
    with TestClient(app) as client:
        eventually(lambda: app.state.holder.model is not None, timeout=15)
        yield client


def count(app, table) -> int:
    with Session(app.state.runtime.engine) as s:
        return s.exec(select(func.count()).select_from(table)).one()


def test_preview_returns_recipients_without_side_effects(client):
    response = client.post("/api/v1/routing/preview", json=BODY)
    assert response.status_code == 200, response.text
    data = response.json()
    assert [r["uai"] for r in data["recipients"]] == ["0690001A", "0690002B", "0690003C"]
    assert [r["role"] for r in data["recipients"]] == ["lead", "copy", "copy"]
    lead = data["recipients"][0]
    assert lead["lycee"] and lead["rbe_email"] and lead["distance_km"] > 0 and lead["reasons"]
    assert lead["formations"] == [{"cfd": "50022137", "label": "CAP Boulanger"}]
    assert data["fallback"] is None and "Référent principal" in data["explanation"]
    for table in (RoutingDecision, Assignment, OutboxEvent):
        assert count(client.app, table) == 0


def test_preview_without_relevant_lycee_shows_the_fallback(client):
    response = client.post("/api/v1/routing/preview", json={**BODY, "jobs": ["astronaute"]})
    assert response.status_code == 200
    assert response.json()["recipients"] == []
    assert response.json()["fallback"] == {"email": "entreprises@ac-lyon.test", "academie": "Lyon"}


@pytest.mark.parametrize("body, field, message", [
    ({k: v for k, v in BODY.items() if k != "needs"}, "needs", "Ce champ est obligatoire."),
    ({**BODY, "needs": ["vacances"]}, "needs.0", "Valeur non reconnue. Valeurs possibles : pfmp,"),
    ({**BODY, "location": {}}, "location", "Indiquez un code postal ou une commune."),
    ({**BODY, "radius_km": 900}, "radius_km", "La valeur ne doit pas dépasser 200."),
    ({**BODY, "location": {"postal_code": "00000"}}, "location", "Code postal ou commune inconnu(e)."),
])
def test_preview_rejects_bad_input_in_french(client, body, field, message):
    """The same body as intake's, refused with the same common error body and the same messages."""
    response = client.post("/api/v1/routing/preview", json=body)
    assert response.status_code == 422
    data = response.json()
    assert data["detail"] == "La requête contient des erreurs : corrigez les champs indiqués."
    assert any(e["field"] == field and e["message"].startswith(message) for e in data["errors"]), data


def test_preview_rejects_non_json_body(client):
    response = client.post("/api/v1/routing/preview", content=b"pas du json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json() == {"detail": "Le corps de la requête est illisible : du JSON encodé en UTF-8 est attendu.",
                               "errors": []}


def test_review_queue_needs_the_admin_token_and_routes_by_hand(client):
    app = client.app
    event = submitted("69007", ["pfmp"], ["astronaute"])
    with unit_of_work(app.state.runtime.engine) as s:
        flows.route_submitted(s, event, app.state.holder.model, app.state.runtime.settings)
    assert client.get("/api/v1/review").status_code == 401
    assert client.get("/api/v1/review", headers={"Authorization": "Bearer faux"}).status_code == 401
    auth = {"Authorization": "Bearer jeton-admin"}
    (item,) = client.get("/api/v1/review", headers=auth).json()
    assert item["request_id"] == str(event.request_id) and item["academie"] == "Lyon"
    assert "Aucun lycée pertinent" in item["explanation"]
    url = f"/api/v1/review/{event.request_id}/route"
    bad = client.post(url, json={"uais": ["0000000X"]}, headers=auth)
    assert bad.status_code == 422
    [error] = bad.json()["errors"]
    assert error["field"] == "uais" and "UAI inconnu" in error["message"]
    assert count(app, Assignment) == 0  # nothing half-stored
    ok = client.post(url, json={"uais": ["0690001A", "0690002B"]}, headers=auth)
    assert ok.status_code == 200 and ok.json()["assignments"] == 2
    assert client.post(url, json={"uais": ["0690001A"]}, headers=auth).status_code == 409
    assert client.get("/api/v1/review", headers=auth).json() == []
    assert client.post("/api/v1/review/pas-un-uuid/route", json={"uais": ["0690001A"]}, headers=auth).status_code == 422


def test_catalog_changed_refreshes_the_read_model(client, stub, redis_url):
    holder = client.app.state.holder
    assert holder.model.version == "fake-1"
    stub.serve(make_snapshot(version="fake-2"))

    async def publish() -> None:
        broker = RedisBroker(redis_url, logger=None)
        await broker.connect()
        for _ in range(3):  # a burst: one refresh is enough
            ev = CatalogChanged(correlation_id="t", uais=["0690001A"], change="capacity")
            await broker.publish(event_to_payload(ev), stream=Streams.CATALOG_CHANGED)
        await broker.stop()

    asyncio.run(publish())
    eventually(lambda: holder.model.version == "fake-2", timeout=15)


def test_restart_while_catalog_is_down_uses_the_cached_snapshot(tmp_path, redis_url, stub):
    settings = settings_for(tmp_path, redis_url, stub)
    app = create_app(settings)
    with TestClient(app):
        eventually(lambda: settings.snapshot_cache_path.exists(), timeout=15)
    stub.up = False
    app = create_app(settings_for(tmp_path, redis_url, stub))
    with TestClient(app) as client:
        eventually(lambda: app.state.holder.model is not None, timeout=15)
        assert app.state.holder.model.version == "fake-1"
        assert client.post("/api/v1/routing/preview", json=BODY).status_code == 200


def test_a_restart_on_an_unchanged_catalog_keeps_the_cached_model(tmp_path, redis_url, stub):
    """The cached snapshot is installed first; the catalog then answers 304 to its ETag, so the model is
    not parsed and built a second time (each build leaves ~50 MiB in the process)."""
    settings = settings_for(tmp_path, redis_url, stub)
    with TestClient(create_app(settings)):
        eventually(lambda: settings.snapshot_cache_path.exists(), timeout=15)
    assert stub.not_modified == 0
    app = create_app(settings_for(tmp_path, redis_url, stub))
    with TestClient(app) as client:
        eventually(lambda: stub.not_modified == 1, timeout=15)
        first = app.state.holder.model
        assert first is not None and first.version == "fake-1"
        assert client.post("/api/v1/routing/preview", json=BODY).status_code == 200
        stub.serve(make_snapshot(version="fake-2"))  # a change is still fetched in full
        app.state.holder.request_refresh()
        eventually(lambda: app.state.holder.model.version == "fake-2", timeout=15)
        assert stub.not_modified == 1


def test_stream_flow_routes_escalates_and_erases(client, redis_url):
    """Submitted -> routed; the lead declines -> escalation; erased -> personal data gone; metrics move."""
    import redis as redis_sync

    from services.matcher import repository as repo
    from services.matcher.models import RoutedRequest
    from shared.contracts.events import AssignmentChanged, RequestErased, RequestSubmitted
    from tests.matcher.test_kill_restart import stream_bodies

    app = client.app
    engine = app.state.runtime.engine
    event = submitted("69007", ["pfmp"], ["boulanger"])

    async def publish(*events) -> None:
        broker = RedisBroker(redis_url, logger=None)
        await broker.connect()
        for ev in events:
            await broker.publish(event_to_payload(ev), stream=ev.stream)
        await broker.stop()

    asyncio.run(publish(event))
    r = redis_sync.Redis.from_url(redis_url)

    def routed_kinds() -> list[str]:
        if not r.exists(Streams.REQUEST_ROUTED):
            return []
        return [b["data"]["kind"] for b in stream_bodies(r, Streams.REQUEST_ROUTED)]

    eventually(lambda: routed_kinds() == ["initial"], timeout=15)
    with Session(engine) as s:
        lead = next(a for a in repo.assignments_of(s, str(event.request_id)) if a.role == "lead")
    declined = AssignmentChanged(correlation_id="t", request_id=event.request_id, assignment_id=lead.id,
                                 rbe_email=lead.rbe_email, role="lead", status="declined")
    asyncio.run(publish(declined))
    eventually(lambda: routed_kinds() == ["initial", "escalation"], timeout=15)
    asyncio.run(publish(RequestErased(correlation_id="t", request_id=event.request_id, reason="retention")))

    def erased() -> bool:
        with Session(engine) as s:
            return s.get(RoutedRequest, str(event.request_id)).erased_at is not None

    eventually(erased, timeout=15)
    metrics = client.get("/metrics").text
    assert 'mlp_requests_routed_total{academie="Lyon",need="pfmp",outcome="routed",pilot="inside"}' in metrics
    assert 'mlp_requests_routed_total{academie="Lyon",need="pfmp",outcome="escalated",pilot="inside"}' in metrics
    assert "mlp_routing_decision_seconds_count" in metrics
    assert isinstance(event, RequestSubmitted)


def test_not_ready_until_the_catalog_read_model_is_loaded(tmp_path, redis_url):
    from tests.support.servers import free_port

    class NoCatalog:
        url = f"http://127.0.0.1:{free_port()}"  # nothing listens there

    app = create_app(settings_for(tmp_path, redis_url, NoCatalog))
    with TestClient(app) as client:
        eventually(lambda: client.get("/readyz").json()["redis"], timeout=15)
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["catalogue"] is False
        assert client.get("/healthz").status_code == 200


def test_preview_outside_the_pilot_shows_no_lycee_and_follows_a_live_change(tmp_path, redis_url, stub):
    """The preview says what would happen to a request: outside the pilot académies, no lycée, the
    académie's contact; an operator's change (`monlyceepro pilot`, one Redis key) applies without restart."""
    import redis as redis_sync

    from shared.platform.pilot_live import write_override
    from shared.reference.pilot import parse_pilot_from_data

    app = create_app(settings_for(tmp_path, redis_url, stub, pilot_academies="Créteil", pilot_refresh_s=0.1))
    with TestClient(app) as client:
        eventually(lambda: app.state.holder.model is not None, timeout=15)
        outside = client.post("/api/v1/routing/preview", json=BODY).json()
        assert outside["recipients"] == [] and outside["in_pilot"] is False
        assert outside["fallback"] == {"email": "entreprises@ac-lyon.test", "academie": "Lyon"}
        assert "ne fait pas partie des académies pilotes" in outside["explanation"]
        assert "Créteil" in outside["explanation"]  # the notice the company is shown names the pilot

        write_override(redis_sync.Redis.from_url(redis_url), parse_pilot_from_data("Créteil,Lyon"))
        inside = eventually(lambda: (r := client.post("/api/v1/routing/preview", json=BODY).json())["in_pilot"] and r,
                            timeout=10, what="the override applied")
        assert [r["uai"] for r in inside["recipients"]][:1] == ["0690001A"] and inside["fallback"] is None


def test_preview_lists_the_other_confirmed_rbes_copied_in_the_thread(tmp_path, redis_url):
    """A lycée that named several RBEs: the preview shows who would be copied, as the routed event does."""
    from shared.contracts.catalog_snapshot import SnapshotRbe

    snapshot = make_snapshot()
    lead = next(ly for ly in snapshot.lycees if ly.uai == "0690001A")
    lead.additional_rbes = [SnapshotRbe(email="lou.rossi@ac-test.fr", name="Lou Rossi")]
    with CatalogStub(snapshot) as stub:
        app = create_app(settings_for(tmp_path, redis_url, stub))
        with TestClient(app) as client:
            eventually(lambda: app.state.holder.model is not None, timeout=15)
            recipients = client.post("/api/v1/routing/preview", json=BODY).json()["recipients"]
    assert recipients[0]["uai"] == "0690001A"
    assert recipients[0]["additional_rbes"] == [
        {"email": "lou.rossi@ac-test.fr", "name": "Lou Rossi", "lycees": [recipients[0]["lycee"]]}]
    assert all(r["additional_rbes"] == [] for r in recipients[1:])
