"""Unit tests of the shared foundation: settings, event contract, log masking, geography."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
import structlog
from pydantic import ValidationError

from shared.contracts.events import (
    EVENT_TYPES,
    Contact,
    Location,
    RequestSubmitted,
    Streams,
    event_from_payload,
    event_payload_json,
    event_to_payload,
)
from shared.platform.logging import configure_logging, correlation_scope, mask_email
from shared.platform.settings import Settings
from shared.reference.geo import fold, haversine_km, load_communes, territory_of


def test_prod_refuses_placeholder_secret(monkeypatch):
    monkeypatch.setenv("MLP_ENV", "prod")
    monkeypatch.setenv("MLP_SECRET_KEY", "change-me")
    with pytest.raises(ValidationError, match="MLP_SECRET_KEY"):
        Settings()


def test_prod_accepts_a_real_secret_and_dev_allows_the_default(monkeypatch):
    monkeypatch.setenv("MLP_ENV", "prod")
    monkeypatch.setenv("MLP_SECRET_KEY", "x" * 48)
    assert Settings().secret_key == "x" * 48
    monkeypatch.setenv("MLP_ENV", "dev")
    monkeypatch.delenv("MLP_SECRET_KEY")
    assert Settings().env == "dev"


def test_database_url_is_per_service(tmp_path, monkeypatch):
    monkeypatch.setenv("MLP_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("MLP_DATABASE_URL", raising=False)
    settings = Settings()
    assert settings.database_url_for("intake") == f"sqlite:///{tmp_path}/intake.db"
    assert settings.database_url_for("matcher") != settings.database_url_for("intake")


def test_every_event_round_trips_through_its_stream_payload():
    event = RequestSubmitted(
        correlation_id="abc123",
        request_id=uuid.uuid4(),
        submitted_at=datetime.now(UTC),
        needs=["pfmp"],
        jobs=["boulanger"],
        location=Location(postal_code="69007", commune_insee="69387"),
        company_name="Boulangerie Test",
        contact=Contact(name="Alice Martin", email="alice@example.fr"),
    )
    payload = json.loads(json.dumps(event_to_payload(event)))
    assert event_from_payload(payload) == event
    # what the outbox stores (pydantic's one-pass JSON) reads back as the same payload
    stored = json.loads(event_payload_json(event.model_copy(update={"message": "Élèves « accueillis » ✓",
                                                                     "radius_km": 20})))
    assert stored == event_to_payload(event.model_copy(update={"message": "Élèves « accueillis » ✓", "radius_km": 20}))
    assert set(EVENT_TYPES) == {cls.event_type for cls in EVENT_TYPES.values()}
    assert all(cls.stream in Streams.ALL for cls in EVENT_TYPES.values())


def test_unknown_or_broken_payload_is_refused():
    with pytest.raises(ValueError):
        event_from_payload({"event_type": "nope", "data": {}})
    with pytest.raises(ValueError):
        event_from_payload({"event_type": "request.submitted", "data": {"request_id": "x"}})


def test_logs_never_show_a_full_email_address(capsys):
    configure_logging("test")  # into capsys' stdout, closed after this test: later tests must not log there
    try:
        with correlation_scope("cid-1"):
            structlog.get_logger().info("contact_saved", email="alice.martin@example.fr", note="écrire à bob@corp.fr")
    finally:
        structlog.reset_defaults()
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["correlation_id"] == "cid-1"
    assert "alice.martin@example.fr" not in json.dumps(line)
    assert line["email"] == "a***@example.fr"
    assert mask_email("bob@corp.fr") == "b***@corp.fr"


def test_geography_and_text_folding():
    communes = load_communes()
    assert communes.resolve(postal_code="69007").insee == "69387"
    assert communes.resolve(postal_code="97400").territory == "974"
    assert territory_of("2A") == "corse" and territory_of("69") == "metropole"
    assert communes.resolve(postal_code="99999") is None
    assert 390 < haversine_km(45.7640, 4.8357, 48.8566, 2.3522) < 400  # Lyon-Paris
    assert fold("Électricien d'Équipement") == "electricien d equipement"
