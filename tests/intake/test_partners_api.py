"""Partner API keys (issue 20): a key submits requests attributed to its partner, reads the status
of its own requests and its summary; revoked, unknown, out-of-scope and over-limit keys are refused
with the common French error body. Requests without a key keep working as the direct API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from services.intake.models import CompanyRequest
from services.intake.partners import admin
from shared.platform.outbox import OutboxEvent
from tests.intake.partner_support import new_key, register
from tests.intake.support import body, counts, engine_of


def _stored(client, request_id: str) -> CompanyRequest:
    with Session(engine_of(client)) as session:
        return session.get(CompanyRequest, request_id)


def _submitted_event(client, request_id: str) -> dict:
    with Session(engine_of(client)) as session:
        for row in session.exec(select(OutboxEvent)).all():
            data = json.loads(row.payload)["data"] if isinstance(row.payload, str) else row.payload["data"]
            if data["request_id"] == request_id:
                return data
    raise AssertionError("no outbox event")


def test_a_partner_key_submits_a_request_attributed_to_the_partner(client):
    partner = register(client)
    response = client.post("/api/v1/requests", json=body(), headers={"X-API-Key": partner.key})
    assert response.status_code == 202, response.text
    request_id = response.json()["request_id"]
    stored = _stored(client, request_id)
    assert (stored.source_kind, stored.source_partner, stored.channel) == ("partner_api", "lese", "api")
    assert _submitted_event(client, request_id)["source"] == {"kind": "partner_api", "partner": "lese", "campaign": None}
    # the same key as a bearer token
    bearer = client.post("/api/v1/requests", json=body(), headers={"Authorization": f"Bearer {partner.key}"})
    assert bearer.status_code == 202 and _stored(client, bearer.json()["request_id"]).source_partner == "lese"


def test_without_a_key_the_api_is_direct_as_before(client):
    register(client)
    response = client.post("/api/v1/requests", json=body())
    assert response.status_code == 202
    stored = _stored(client, response.json()["request_id"])
    assert (stored.source_kind, stored.source_partner) == ("api", None)


def test_revoked_unknown_and_malformed_keys_are_refused_with_a_french_401(client):
    partner = register(client)
    admin.revoke_key(engine_of(client), partner.prefix)
    for key in (partner.key, partner.key[:-1] + ("A" if partner.key[-1] != "A" else "B"), "n'importe quoi", ""):
        response = client.post("/api/v1/requests", json=body(), headers={"X-API-Key": key})
        assert response.status_code == 401, key
        assert response.json() == {"detail": "Clé d'API absente, invalide ou révoquée : envoyez la clé fournie par "
                                              "MonLycéePro dans l'en-tête X-API-Key.", "errors": []}
    # refused before the body is read: a faulty body with a bad key is still a 401
    assert client.post("/api/v1/requests", json={}, headers={"X-API-Key": partner.key}).status_code == 401
    assert counts(client) == (0, 0)


def test_a_disabled_partner_s_keys_are_refused(client):
    partner = register(client)
    admin.set_enabled(engine_of(client), "lese", False)
    assert client.post("/api/v1/requests", json=body(), headers={"X-API-Key": partner.key}).status_code == 401
    admin.set_enabled(engine_of(client), "lese", True)
    assert client.post("/api/v1/requests", json=body(), headers={"X-API-Key": partner.key}).status_code == 202


def test_scopes_are_enforced_with_a_403(client):
    register(client)
    status_only = new_key(client, "lese", "status")
    submit_only = new_key(client, "lese", "submit")
    refused = client.post("/api/v1/requests", json=body(), headers={"X-API-Key": status_only})
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Cette clé d'API ne permet pas de déposer des demandes."
    request_id = client.post("/api/v1/requests", json=body(), headers={"X-API-Key": submit_only}).json()["request_id"]
    read = client.get(f"/api/v1/partenaire/demandes/{request_id}", headers={"X-API-Key": submit_only})
    assert read.status_code == 403
    assert read.json()["detail"] == "Cette clé d'API ne permet pas de lire le suivi de ses demandes et son bilan."
    assert client.get("/api/v1/partenaire/bilan", headers={"X-API-Key": submit_only}).status_code == 403
    assert counts(client) == (1, 1)


def test_a_partner_reads_its_own_requests_only(client):
    lese = register(client)
    other = register(client, slug="orion", name="Orion", origins=())
    mine = client.post("/api/v1/requests", json=body(), headers={"X-API-Key": lese.key}).json()["request_id"]
    theirs = client.post("/api/v1/requests", json=body(), headers={"X-API-Key": other.key}).json()["request_id"]
    direct = client.post("/api/v1/requests", json=body()).json()["request_id"]
    view = client.get(f"/api/v1/partenaire/demandes/{mine}", headers={"X-API-Key": lese.key})
    assert view.status_code == 200, view.text
    data = view.json()
    assert data["request_id"] == mine and data["status"] == "received" and data["status_label"] == "Reçue"
    assert [s["kind"] for s in data["steps"]] == ["received"]
    assert "contact" not in json.dumps(data) and "jeanne" not in json.dumps(data).lower()  # no personal data
    for request_id in (theirs, direct, "00000000-0000-0000-0000-000000000000"):
        refused = client.get(f"/api/v1/partenaire/demandes/{request_id}", headers={"X-API-Key": lese.key})
        assert refused.status_code == 404
        assert refused.json()["detail"] == "Demande introuvable : vérifiez le lien de suivi."
    assert client.get(f"/api/v1/partenaire/demandes/{mine}").status_code == 401  # no key


def test_each_key_has_its_own_rate_limit_and_bypasses_the_ip_limit(make_client):
    client = make_client(partner_rate_limit=3, rate_limit_ip=2)
    partner = register(client)
    other = new_key(client, "lese", "submit,status")
    headers = {"X-API-Key": partner.key}
    assert [client.post("/api/v1/requests", json=body(), headers=headers).status_code for _ in range(3)] == [202] * 3
    limited = client.post("/api/v1/requests", json=body(), headers=headers)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["detail"] == "Trop d'appels avec cette clé d'API : patientez avant de réessayer."
    assert client.get("/api/v1/partenaire/bilan", headers=headers).status_code == 429  # one limit per key
    assert client.post("/api/v1/requests", json=body(), headers={"X-API-Key": other}).status_code == 202
    # failed keys count against the caller's IP limit (2 here): guessing keys is throttled
    bad = {"X-API-Key": "mlp_00000000_" + "A" * 43}
    assert [client.post("/api/v1/requests", json=body(), headers=bad).status_code for _ in range(3)] == [401, 401, 429]


def test_idempotency_keys_are_the_partner_s_own(client):
    lese = register(client)
    orion = register(client, slug="orion", name="Orion", origins=())
    same = {"Idempotency-Key": "demande-4711"}
    first = client.post("/api/v1/requests", json=body(), headers={**same, "X-API-Key": lese.key}).json()
    again = client.post("/api/v1/requests", json=body(), headers={**same, "X-API-Key": lese.key}).json()
    assert again["request_id"] == first["request_id"]
    other = client.post("/api/v1/requests", json=body(), headers={**same, "X-API-Key": orion.key}).json()
    direct = client.post("/api/v1/requests", json=body(), headers=same).json()
    assert len({first["request_id"], other["request_id"], direct["request_id"]}) == 3
    assert _stored(client, other["request_id"]).source_partner == "orion"


def test_the_partner_summary_counts_its_requests_exactly(client):
    lese = register(client)
    headers = {"X-API-Key": lese.key}
    ids = [client.post("/api/v1/requests", json=body(), headers=headers).json()["request_id"] for _ in range(3)]
    client.post("/api/v1/requests", json=body())  # direct: not the partner's
    with Session(engine_of(client)) as session:
        for request_id, answered_after in zip(ids[:2], (2, 6), strict=True):
            row = session.get(CompanyRequest, request_id)
            row.first_routed_at = row.created_at + timedelta(minutes=1)
            row.first_answered_at = row.created_at + timedelta(hours=answered_after)
            session.add(row)
        row = session.get(CompanyRequest, ids[2])
        row.source_kind = "embed"  # as if taken by the partner's embedded form
        session.add(row)
        session.commit()
    response = client.get("/api/v1/partenaire/bilan", headers=headers)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["partner"] == "lese" and data["name"] == "Les Entreprises s'Engagent" and data["period"] == "tout"
    assert data["totals"] == {"requests": 3, "routed": 2, "answered": 2, "median_hours_to_first_answer": 4.0}
    assert [(s["source"], s["requests"]) for s in data["by_source"]] == [("embed", 1), ("partner_api", 2)]
    assert client.get("/api/v1/partenaire/bilan?period=7j", headers=headers).status_code == 422
    assert client.get("/api/v1/partenaire/bilan?period=30j", headers=headers).json()["totals"]["requests"] == 3
    old = datetime.now(UTC) - timedelta(days=40)
    with Session(engine_of(client)) as session:
        row = session.get(CompanyRequest, ids[0])
        row.created_at = old
        session.add(row)
        session.commit()
    assert client.get("/api/v1/partenaire/bilan?period=30j", headers=headers).json()["totals"]["requests"] == 2


def test_openapi_documents_the_partner_keys_in_french(client):
    schema = client.get("/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["cleApiPartenaire"] == {**schemes["cleApiPartenaire"], "type": "apiKey", "in": "header",
                                           "name": "X-API-Key"}
    assert "Portées" in schemes["cleApiPartenaire"]["description"]
    submit = schema["paths"]["/api/v1/requests"]["post"]
    assert {} in submit["security"] and {"cleApiPartenaire": []} in submit["security"]  # optional
    assert set(submit["responses"]) >= {"401", "403"}
    summary = schema["paths"]["/api/v1/partenaire/bilan"]["get"]
    assert {} not in summary["security"] and summary["summary"] == "Bilan privé du partenaire"
