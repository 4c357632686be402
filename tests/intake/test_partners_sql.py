"""The partners' repository and admin transactions, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session

from services.intake.models import CompanyRequest
from services.intake.partners import admin, keys, repository
from services.intake.partners.summary import summary
from tests.intake.support import body, engine_of

SECRET = keys.key_secret("a test secret of the right length, 32+ characters")


def test_partners_origins_and_keys_round_trip(database_url, make_client):
    engine = engine_of(make_client(database_url))
    admin.add_partner(engine, "lese", "Les Entreprises s'Engagent", ["https://A.example.fr/", "http://localhost:3000"])
    admin.add_partner(engine, "orion", "Orion", [])
    with pytest.raises(admin.AdminError, match="existe déjà"):
        admin.add_partner(engine, "lese", "Encore", [])
    assert admin.change_origins(engine, "lese", add=["https://b.example.fr"], remove=["https://a.example.fr"]) == [
        "http://localhost:3000", "https://b.example.fr"]
    with Session(engine) as session:  # a JSON column changed in place must be saved (PostgreSQL too)
        assert repository.get_partner(session, "lese").origins == ["http://localhost:3000", "https://b.example.fr"]
        assert repository.enabled_origins(session) == {
            "lese": ["http://localhost:3000", "https://b.example.fr"], "orion": []}

    created = admin.create_key(engine, SECRET, "lese", "submit", "production")
    with Session(engine) as session:
        owner = repository.key_owner(session, keys.hash_key(created.key, SECRET))
        assert (owner.partner, owner.scopes, owner.prefix) == ("lese", ("submit",), created.prefix)
        assert repository.key_owner(session, keys.hash_key(created.key, keys.key_secret("another secret"))) is None
        stored = repository.get_key(session, created.prefix)
        assert stored.key_hash != created.key and created.key not in stored.key_hash  # only the HMAC is kept
    admin.set_enabled(engine, "lese", False)
    with Session(engine) as session:
        assert repository.key_owner(session, keys.hash_key(created.key, SECRET)) is None  # partner disabled
        assert set(repository.enabled_origins(session)) == {"orion"}
    admin.set_enabled(engine, "lese", True)
    admin.revoke_key(engine, created.key)  # the whole key works too: only its prefix is read
    with Session(engine) as session:
        assert repository.key_owner(session, keys.hash_key(created.key, SECRET)) is None
    assert [k.revoked_at is not None for k in admin.list_keys(engine, "lese")] == [True]
    assert [(p.slug, active) for p, active in admin.list_partners(engine)] == [("lese", 0), ("orion", 0)]
    with pytest.raises(admin.AdminError, match="Aucune clé"):
        admin.revoke_key(engine, "mlp_00000000")


def test_the_summary_reads_the_partner_s_requests_only(database_url, make_client):
    client = make_client(database_url)
    engine = engine_of(client)
    admin.add_partner(engine, "lese", "LES", [])
    key = admin.create_key(engine, client.app.state.partners.secret, "lese", "submit").key
    mine = [client.post("/api/v1/requests", json=body(), headers={"X-API-Key": key}).json()["request_id"]
            for _ in range(2)]
    client.post("/api/v1/requests", json=body())
    with Session(engine) as session:
        row = session.get(CompanyRequest, mine[0])
        row.first_routed_at = row.created_at + timedelta(minutes=5)
        row.first_answered_at = row.created_at + timedelta(hours=3)
        session.add(row)
        session.commit()
        figures = summary(session, "lese", "LES", "tout")
        assert figures["totals"] == {"requests": 2, "routed": 1, "answered": 1, "median_hours_to_first_answer": 3.0}
        assert repository.partner_request(session, "lese", mine[1]).id == mine[1]
        assert repository.partner_request(session, "orion", mine[1]) is None
