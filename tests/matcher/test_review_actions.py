"""The académie referents' actions on the matcher (back-office): scope, assign, reroute, close, audit, the
idempotency key, and two referents acting at once on a running matcher (real process, real threads,
SQLite and PostgreSQL): one assignment, the other one told who acted first."""

from __future__ import annotations

import asyncio
import threading
import uuid

import httpx
import pytest
from fastapi.testclient import TestClient
from faststream.redis import RedisBroker

from services.matcher.app import create_app
from services.matcher.config import MatcherSettings
from services.matcher.service import flows
from shared.contracts.events import event_to_payload
from shared.platform.db import unit_of_work
from tests.matcher.catalog_stub import CatalogStub
from tests.matcher.fakes import make_snapshot, submitted
from tests.support.audit import query
from tests.support.eventually import eventually
from tests.support.live import ServiceProcess, service_env

pytestmark = pytest.mark.timeout(120)
AUTH = {"Authorization": "Bearer jeton-admin"}
CAMILLE = {"actor": "camille.martin@ac-lyon.fr", "actor_name": "Camille Martin", "academie": "Lyon"}
DOMINIQUE = {"actor": "dominique.petit@ac-lyon.fr", "actor_name": "Dominique Petit", "academie": "Lyon"}


@pytest.fixture
def stub():
    with CatalogStub(make_snapshot()) as stub:
        yield stub


@pytest.fixture
def client(tmp_path, redis_url, stub):
    app = create_app(MatcherSettings(
        env="test", redis_url=redis_url, database_url=f"sqlite:///{tmp_path}/{{service}}.db", var_dir=tmp_path / "var",
        catalog_url=stub.url, admin_token="jeton-admin"))
    with TestClient(app) as client:
        eventually(lambda: app.state.holder.model is not None, timeout=15)
        yield client


def _route(client: TestClient, jobs: list[str]) -> str:
    app = client.app
    event = submitted("69007", ["pfmp"], jobs, email=f"{uuid.uuid4().hex[:8]}@boulangerie.test", siret=None)
    with unit_of_work(app.state.runtime.engine) as session:
        flows.route_submitted(session, event, app.state.holder.model, app.state.runtime.settings)
    return str(event.request_id)


def _act(client, request_id: str, key: str, **body) -> httpx.Response:
    return client.post(f"/api/v1/review/{request_id}/actions", json=body, headers={**AUTH, "Idempotency-Key": key})


def test_scope_validation_reroute_close_and_audit(client):
    lost, other = _route(client, ["astronaute"]), _route(client, ["astronaute"])
    assert len(client.get("/api/v1/review", params={"academie": "Lyon"}, headers=AUTH).json()) == 2
    assert client.get("/api/v1/review", params={"academie": "Rennes"}, headers=AUTH).json() == []
    # Another académie's referent cannot see nor act on it; lycées of another académie are refused.
    assert _act(client, lost, "cle-reunion-1", action="close", reason="x", expected_version=0,
                **{**CAMILLE, "academie": "La Réunion"}).status_code == 404
    far = _act(client, lost, "cle-loin-0001", action="assign", uais=["9740001H"], expected_version=0, **CAMILLE)
    assert far.status_code == 422 and far.json()["errors"][0]["message"] == (
        "Lycée(s) hors de l'académie de Lyon : 9740001H")
    assert _act(client, lost, "", action="close", reason="x", expected_version=0, **CAMILLE).status_code == 422

    rerouted = _act(client, lost, "cle-reroute-1", action="reroute", jobs=["boulanger"], expected_version=0, **CAMILLE)
    assert rerouted.status_code == 200, rerouted.text
    assert rerouted.json()["assignments"] == 3 and "Référent principal" in rerouted.json()["explanation"]
    stale = _act(client, lost, "cle-close-02", action="close", reason="doublon", expected_version=0, **DOMINIQUE)
    assert stale.status_code == 409 and stale.json()["detail"].startswith("Déjà traité par Camille Martin à ")
    again = _act(client, lost, "cle-reroute-1", action="reroute", jobs=["boulanger"], expected_version=0, **CAMILLE)
    assert again.status_code == 200 and again.json()["replayed"] is True and again.json()["assignments"] == 3

    closed = _act(client, other, "cle-close-03", action="close", reason="L'entreprise a trouvé", expected_version=0,
                  **DOMINIQUE)
    assert closed.status_code == 200 and closed.json()["resolution"] == "closed"
    items = {i["request_id"]: i for i in client.get("/api/v1/review", params={"traitees": "true"}, headers=AUTH).json()}
    assert (items[lost]["resolution"], items[lost]["handled_by_name"], items[lost]["version"]) == ("rerouted", "Camille Martin", 1)
    assert items[other]["resolution"] == "closed" and client.get("/api/v1/review", headers=AUTH).json() == []
    metrics = client.get("/metrics").text
    assert 'mlp_review_actions_total{action="reroute",outcome="replayed"} 1.0' in metrics
    assert 'mlp_review_actions_total{action="close",outcome="conflict"} 1.0' in metrics
    engine = client.app.state.runtime.engine
    audit = query(str(engine.url), "SELECT request_id, action, actor FROM matcher_review_action ORDER BY created_at")
    assert audit == [(lost, "reroute", "camille.martin@ac-lyon.fr"), (other, "close", "dominique.petit@ac-lyon.fr")]


def test_a_request_never_queued_is_assigned_once(client):
    """An unanswered request (not in the review queue: version 0) is claimed by inserting its item."""
    request_id = _route(client, ["boulanger"])
    first = _act(client, request_id, "cle-unanswered-1", action="assign", uais=["0690006F"], expected_version=0, **CAMILLE)
    assert first.status_code == 200 and first.json()["assignments"] == 1
    second = _act(client, request_id, "cle-unanswered-2", action="assign", uais=["0690008L"], expected_version=0,
                  **DOMINIQUE)
    assert second.status_code == 409 and "Camille Martin" in second.json()["detail"]


def _publish(redis_url: str, event) -> None:
    async def run() -> None:
        broker = RedisBroker(redis_url, logger=None)
        await broker.connect()
        await broker.publish(event_to_payload(event), stream=event.stream)
        await broker.stop()

    asyncio.run(run())


def test_two_referents_assigning_at_once_make_one_assignment(tmp_path, redis_url, stub, database_url):
    env = service_env(tmp_path, redis_url, MLP_DATABASE_URL=database_url, MLP_CATALOG_URL=stub.url,
                      MLP_ADMIN_TOKEN="jeton-admin")
    matcher = ServiceProcess("matcher", env, log_dir=tmp_path / "logs").start()
    try:
        event = submitted("69007", ["pfmp"], ["astronaute"])
        _publish(redis_url, event)
        request_id = str(event.request_id)

        def queued() -> list[dict]:
            return httpx.get(matcher.url + "/api/v1/review", params={"academie": "Lyon"}, headers=AUTH, timeout=5).json()

        (item,) = eventually(queued, timeout=30, what="request in the review queue")
        clicks = [(CAMILLE, "0690001A"), (DOMINIQUE, "0690002B")] * 3  # each referent clicks three times, at once
        barrier, answers = threading.Barrier(len(clicks)), []

        def click(who: dict, uai: str) -> None:
            barrier.wait()
            answers.append(httpx.post(matcher.url + f"/api/v1/review/{request_id}/actions", timeout=30, headers={
                **AUTH, "Idempotency-Key": uuid.uuid4().hex}, json={
                **who, "action": "assign", "uais": [uai], "expected_version": item["version"]}))

        threads = [threading.Thread(target=click, args=c) for c in clicks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(a.status_code for a in answers) == [200] + [409] * 5, [a.text for a in answers]
        winner = next(a.json() for a in answers if a.status_code == 200)
        refused = {a.json()["detail"] for a in answers if a.status_code == 409}
        assert len(refused) == 1 and refused.pop().startswith(f"Déjà traité par {winner['handled_by_name']} à ")
        assert query(database_url, "SELECT count(*) FROM matcher_assignment WHERE request_id = :r", r=request_id) == [(1,)]
        assert query(database_url, "SELECT count(*) FROM matcher_review_action") == [(1,)]
    finally:
        matcher.stop()
