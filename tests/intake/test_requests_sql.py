"""Accepting requests, idempotency, the status timeline, deletion, retention and impact,
on SQLite and PostgreSQL, against a real Redis."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import redis as redis_sync
from sqlmodel import Session, select

from services.intake.config import IntakeSettings
from services.intake.models import CompanyRequest
from services.intake.tasks import run_retention
from shared.contracts.events import (
    AssignmentChanged,
    RequestErased,
    RequestRouted,
    RoutedRecipient,
    Streams,
    ThreadMessage,
    event_to_payload,
)
from shared.platform.outbox import OutboxEvent
from tests.intake.support import body, counts, engine_of
from tests.support.eventually import eventually


def _submit(client, **changes):
    response = client.post("/api/v1/requests", json=body(**changes))
    assert response.status_code == 202, response.text
    return response.json()


def _outbox(client) -> list[OutboxEvent]:
    with Session(engine_of(client)) as session:
        return list(session.exec(select(OutboxEvent).order_by(OutboxEvent.id)).all())


def test_accepted_request_is_stored_with_its_event_and_published(database_url, make_client, redis_url):
    client = make_client(database_url)
    response = client.post("/api/v1/requests", json=body(), headers={"X-Request-ID": "corr123"})
    assert response.status_code == 202
    data = response.json()
    token = data["status_url"].rsplit("/", 1)[1]
    assert data["status_url"] == f"http://intake.test/suivi/{token}"
    assert len(token) >= 32
    rows = _outbox(client)
    assert [r.event_type for r in rows] == ["request.submitted"]
    event = json.loads(rows[0].payload)["data"]
    assert event["request_id"] == data["request_id"]
    assert event["correlation_id"] == "corr123"
    assert event["location"] == {"postal_code": "69007", "commune_insee": "69387", "commune_name": "Lyon 7e Arrondissement",
                                 "latitude": 45.73333, "longitude": 4.83734, "departement": "69"}
    assert event["contact"]["email"] == "jeanne.martin@boulangerie-dupont.fr"
    assert event["siret"] == "73282932000074" and event["naf"] == "10.71C"
    assert event["status_url"] == data["status_url"]
    # the relay publishes it on the real stream
    r = redis_sync.Redis.from_url(redis_url)
    entries = eventually(lambda: r.xrange(Streams.REQUEST_SUBMITTED), timeout=15)
    assert len(entries) == 1
    status = client.get(f"/api/v1/suivi/{token}").json()
    assert status["status"] == "received" and status["timeline"][0]["kind"] == "received"
    assert client.get(f"/api/v1/requests/{data['request_id']}", params={"token": token}).status_code == 200
    assert client.get(f"/api/v1/requests/{data['request_id']}", params={"token": "autre"}).status_code == 404


def test_idempotency_key_returns_the_first_result(database_url, make_client):
    client = make_client(database_url)
    headers = {"Idempotency-Key": "partenaire-42"}
    first = client.post("/api/v1/requests", json=body(), headers=headers)
    again = client.post("/api/v1/requests", json=body(), headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert counts(client) == (1, 1)


def _routed(request_id: str, assignment: uuid.UUID) -> RequestRouted:
    return RequestRouted(
        correlation_id="c1", request_id=uuid.UUID(request_id), routing_id=uuid.uuid4(),
        submitted_at=datetime.now(UTC), needs=["pfmp"], academie="Lyon", company_name="Boulangerie Dupont",
        contact={"name": "Jeanne Martin", "email": "jeanne.martin@boulangerie-dupont.fr"},
        recipients=[RoutedRecipient(assignment_id=assignment, rbe_email="rbe@lycee.fr", role="lead",
                                    uais=["0690001A"], lycees=["Lycée Hôtelier François Rabelais"])],
    )


def test_status_timeline_is_built_from_stream_events(database_url, make_client, redis_url):
    client = make_client(database_url, claim_idle_ms=1000)
    data = _submit(client)
    token = data["status_url"].rsplit("/", 1)[1]
    assignment = uuid.uuid4()
    r = redis_sync.Redis.from_url(redis_url)
    routed = _routed(data["request_id"], assignment)
    sent = datetime.now(UTC) + timedelta(hours=5)
    events = [
        routed,
        routed,  # redelivered: no second effect
        AssignmentChanged(correlation_id="c1", request_id=uuid.UUID(data["request_id"]), assignment_id=assignment,
                          rbe_email="rbe@lycee.fr", role="lead", status="accepted"),
        ThreadMessage(correlation_id="c1", request_id=uuid.UUID(data["request_id"]), message_id="m1",
                      author_role="lead", author_label="Lycée Hôtelier François Rabelais", kind="reply",
                      text="Bonjour, nous avons deux élèves intéressés.", sent_at=sent),
    ]
    eventually(lambda: client.app.state.runtime.broker_ready.is_set(), timeout=15)
    time.sleep(0.3)  # let the consumer groups be created before the first XADD
    for event in events:
        r.xadd(event.stream, {"__data__": json.dumps(event_to_payload(event))})
    status = eventually(lambda: len((s := client.get(f"/api/v1/suivi/{token}").json())["timeline"]) >= 4 and s,
                        timeout=15)
    time.sleep(0.3)  # a duplicate effect of the redelivered routing would show up now
    status = client.get(f"/api/v1/suivi/{token}").json()
    assert status["status"] == "answered"
    titles = [e["title"] for e in status["timeline"]]
    assert titles == [
        "Demande reçue par MonLycéePro",
        "Transmise à Lycée Hôtelier François Rabelais (référent principal)",
        "Lycée Hôtelier François Rabelais a pris en charge votre demande",
        "Réponse de Lycée Hôtelier François Rabelais",
    ]
    assert status["timeline"][-1]["text"] == "Bonjour, nous avons deux élèves intéressés."
    page = client.get(f"/suivi/{token}")
    assert "Bonjour, nous avons deux élèves intéressés." in page.text and "Réponse reçue" in page.text
    impact = client.get("/api/v1/impact", params={"period": "30j"}).json()
    # one request: published as « moins de 5 » (null); ops' gauges carry the exact figures
    assert impact["totals"] == {"received": None, "routed": None, "answered": None,
                                "median_hours_to_first_answer": None}
    scraped = client.get("/metrics").text
    assert 'mlp_impact_interactions{academie="Lyon"} 1.0' in scraped
    assert 'mlp_impact_first_answer_median_hours{academie="Lyon"} 5.0' in scraped
    assert impact["by_academie"][0]["academie"] == "Lyon"
    assert {n["need"] for n in impact["by_need"]} == {"pfmp", "apprentissage"}


def test_company_deletion_anonymises_and_publishes_request_erased(database_url, make_client):
    client = make_client(database_url)
    data = _submit(client)
    token = data["status_url"].rsplit("/", 1)[1]
    refused = client.post(f"/suivi/{token}/suppression", data={}, follow_redirects=False)
    assert refused.status_code == 422
    assert "Cochez la case de confirmation" in refused.text
    done = client.post(f"/suivi/{token}/suppression", data={"confirmation": "oui"}, follow_redirects=False)
    assert done.status_code == 303
    with Session(engine_of(client)) as session:
        stored = session.get(CompanyRequest, data["request_id"])
        assert stored.contact_email == "" and stored.contact_name == "" and stored.contact_phone is None
        assert stored.company_name == "(données supprimées)" and stored.message == "" and stored.siret is None
        assert stored.erasure_reason == "company_request" and stored.needs == ["pfmp", "apprentissage"]
    erased = [json.loads(r.payload)["data"] for r in _outbox(client) if r.event_type == RequestErased.event_type]
    assert [(e["request_id"], e["reason"]) for e in erased] == [(data["request_id"], "company_request")]
    status = client.get(f"/api/v1/suivi/{token}").json()
    assert status["status"] == "erased" and status["company_name"] is None
    assert "jeanne" not in json.dumps(status).lower()
    # idempotent: a second deletion changes nothing and publishes nothing more
    assert client.delete(f"/api/v1/suivi/{token}").status_code == 200
    assert sum(r.event_type == RequestErased.event_type for r in _outbox(client)) == 1


def test_published_submission_copy_is_dropped_on_erasure(database_url, make_client):
    client = make_client(database_url)
    data = _submit(client)
    token = data["status_url"].rsplit("/", 1)[1]
    eventually(lambda: all(r.published_at for r in _outbox(client)), timeout=15)
    client.delete(f"/api/v1/suivi/{token}")
    payloads = " ".join(r.payload for r in _outbox(client))
    assert "jeanne" not in payloads.lower()


def test_retention_anonymises_only_expired_requests(database_url, make_client, tmp_path, redis_url):
    client = make_client(database_url)
    old = _submit(client)
    recent = _submit(client, contact__email="paul@boulangerie-dupont.fr")
    with Session(engine_of(client)) as session:
        row = session.get(CompanyRequest, old["request_id"])
        row.created_at = datetime.now(UTC) - timedelta(days=1096)
        session.add(row)
        session.commit()
    settings = IntakeSettings(database_url=database_url, redis_url=redis_url, retention_days=1095, retention_batch=1)
    assert run_retention(engine_of(client), settings) == 1
    assert run_retention(engine_of(client), settings) == 0
    with Session(engine_of(client)) as session:
        assert session.get(CompanyRequest, old["request_id"]).erasure_reason == "retention"
        assert session.get(CompanyRequest, old["request_id"]).contact_email == ""
        assert session.get(CompanyRequest, recent["request_id"]).contact_email == "paul@boulangerie-dupont.fr"
    erased = [json.loads(r.payload)["data"] for r in _outbox(client) if r.event_type == RequestErased.event_type]
    assert [(e["request_id"], e["reason"]) for e in erased] == [(old["request_id"], "retention")]


def test_concurrent_retries_with_one_idempotency_key_store_one_request(database_url, make_client):
    from concurrent.futures import ThreadPoolExecutor

    from services.intake.service.submission import body_hash

    client = make_client(database_url)
    ctx = client.app.state.intake
    data = body()
    key = ("retry-storm", body_hash(data))
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: ctx.accept_sync(data, "api", "c", key), range(12)))
    assert len({r.request_id for r in results}) == 1
    assert counts(client) == (1, 1)


def test_an_assignment_change_consumed_before_its_routing_gets_the_lycee_names(database_url, make_client):
    from services.intake.handlers import on_assignment, on_routed
    from shared.platform.db import unit_of_work

    client = make_client(database_url)
    data = _submit(client)
    token = data["status_url"].rsplit("/", 1)[1]
    lead, copy = uuid.uuid4(), uuid.uuid4()
    routed = _routed(data["request_id"], lead)
    routed.recipients.append(RoutedRecipient(assignment_id=copy, rbe_email="rbe2@lycee.fr", role="copy",
                                             uais=["0690002B"], lycees=["Lycée Croissant"]))
    accepted = AssignmentChanged(correlation_id="c1", request_id=uuid.UUID(data["request_id"]), assignment_id=lead,
                                 rbe_email="rbe@lycee.fr", role="lead", status="accepted")
    with unit_of_work(engine_of(client)) as session:  # the assignment stream ran ahead of the routing one
        on_assignment(accepted, session)
    with unit_of_work(engine_of(client)) as session:
        on_routed(routed, session)
    titles = [e["title"] for e in client.get(f"/api/v1/suivi/{token}").json()["timeline"]]
    assert titles == [
        "Demande reçue par MonLycéePro",
        "Transmise à Lycée Hôtelier François Rabelais (référent principal)",
        "Transmise à Lycée Croissant (en copie)",
        "Lycée Hôtelier François Rabelais a pris en charge votre demande",
    ]
