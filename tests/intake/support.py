"""What the intake tests share besides fixtures: a valid request body and variations of it, the
settings of a test app, and what an app behind a TestClient stored."""

from __future__ import annotations

import copy

from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from services.intake.config import IntakeSettings
from services.intake.models import CompanyRequest
from shared.platform.outbox import OutboxEvent

VALID_BODY = {
    "needs": ["pfmp", "apprentissage"],
    "jobs": ["Boulanger", "D1102"],
    "naf": "10.71C",
    "siret": "73282932000074",
    "location": {"postal_code": "69007"},
    "radius_km": 20,
    "company_name": "Boulangerie Dupont",
    "contact": {"name": "Jeanne Martin", "email": "jeanne.martin@boulangerie-dupont.fr", "phone": "04 72 00 00 00"},
    "message": "Nous pouvons accueillir deux élèves au printemps.",
    "places": 2,
    "period": "mars à juin 2027",
}


def body(**changes) -> dict:
    data = copy.deepcopy(VALID_BODY)
    for key, value in changes.items():
        if "__" in key:
            outer, inner = key.split("__")
            data[outer][inner] = value
        elif value is ...:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def make_settings(tmp_path, redis_url: str, database_url: str | None = None, **overrides) -> IntakeSettings:
    values = dict(
        env="test", redis_url=redis_url, database_url=database_url or f"sqlite:///{tmp_path}/intake.db",
        var_dir=tmp_path / "var", public_base_url="http://intake.test", catalog_url="http://127.0.0.1:9",
        rate_limit_ip=1000, rate_limit_email=1000, min_fill_seconds=0, retention_interval_s=3600,
        log_level="WARNING",
    )
    values.update(overrides)
    return IntakeSettings(**values)


def engine_of(client: TestClient):
    return client.app.state.runtime.engine


def counts(client: TestClient) -> tuple[int, int]:
    """(requests, outbox rows) stored by the app behind the client."""
    with Session(engine_of(client)) as session:
        requests = session.exec(select(func.count()).select_from(CompanyRequest)).one()
        outbox = session.exec(select(func.count()).select_from(OutboxEvent)).one()
    return int(requests), int(outbox)
