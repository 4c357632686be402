"""The accept path's inserts by the driver's own executemany (shared.platform.db.RawInsert) write
exactly the rows a Core INSERT writes, in the caller's transaction, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from services.intake import repository
from services.intake.migrations import SCHEMA
from services.intake.models import CompanyRequest, TimelineEntry
from shared.platform.db import RawInsert, insert_raw, make_engine, table_of
from shared.platform.migrations import upgrade
from shared.platform.outbox import OutboxEvent

REQUESTS, TIMELINE, OUTBOX = table_of(CompanyRequest), table_of(TimelineEntry), table_of(OutboxEvent)
AT = datetime(2026, 12, 6, 2, 30, 15, 123456, tzinfo=UTC)


def request_row(n: int) -> dict[str, object]:
    return {
        "id": f"req-{n}", "token": f"tok-{n}", "created_at": AT + timedelta(seconds=n), "channel": "api",
        "correlation_id": f"c{n}", "needs": ["pfmp", "apprentissage"], "jobs": ["Boulanger", "Pâtissière « fine »"],
        "naf": "10.71C", "siret": "73282932000074", "postal_code": "69007", "commune_insee": "69387",
        "commune_name": "Lyon 7e Arrondissement", "departement": "69", "academie": "Lyon", "latitude": 45.73,
        "longitude": 4.84, "radius_km": 20, "company_name": "Boulangerie Dupont", "contact_name": "Jeanne Martin",
        "contact_email": f"jeanne{n}@boulangerie-dupont.fr", "contact_phone": None, "message": "Bonjour\nà vous",
        "places": 2, "period": None, "preferred_uai": None, "source_kind": "api", "source_partner": None,
        "source_campaign": None, "in_pilot": n % 2 == 0,
    }


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    upgrade(SCHEMA, engine)
    yield engine
    engine.dispose()


def stored(engine, table) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(select(table).order_by(*table.primary_key.columns))]


def test_rows_are_those_a_core_insert_writes(engine):
    rows = [request_row(n) for n in range(3)]
    entries = [repository.entry_row(f"req-{n}", AT, "received", "Demande reçue") for n in range(3)]
    outbox = [{"event_id": f"e{n}", "stream": "s", "event_type": "t", "correlation_id": f"c{n}",
               "payload": '{"data":{"é":1}}', "created_at": AT, "attempts": 0} for n in range(3)]
    with engine.begin() as conn:  # the reference: SQLAlchemy's own executemany
        conn.execute(insert(REQUESTS), rows)
        conn.execute(insert(TIMELINE), entries)
        conn.execute(insert(OUTBOX), outbox)
    expected = [stored(engine, t) for t in (REQUESTS, TIMELINE, OUTBOX)]
    with engine.begin() as conn:
        for table in (REQUESTS, TIMELINE, OUTBOX):
            conn.execute(delete(table))
    with engine.begin() as conn:
        insert_raw(conn, REQUESTS, rows)
        insert_raw(conn, TIMELINE, entries)
        insert_raw(conn, OUTBOX, outbox)
    got = [stored(engine, t) for t in (REQUESTS, TIMELINE, OUTBOX)]
    strip = lambda table_rows: [r[1:] for r in table_rows]  # noqa: E731 - generated integer keys differ
    assert got[0] == expected[0]
    assert strip(got[1]) == strip(expected[1]) and strip(got[2]) == strip(expected[2])
    with engine.connect() as conn:  # read back through the ORM types: dates, JSON and booleans as written
        first = conn.execute(select(REQUESTS).where(REQUESTS.c.id == "req-0")).one()
    assert first.created_at.replace(tzinfo=UTC) == AT and first.jobs == ["Boulanger", "Pâtissière « fine »"]
    assert first.in_pilot is True


def test_the_rows_belong_to_the_callers_transaction_and_errors_are_sqlalchemys(engine):
    with pytest.raises(IntegrityError), engine.begin() as conn:
        insert_raw(conn, REQUESTS, [request_row(1)])
        insert_raw(conn, REQUESTS, [request_row(1)])  # same id: the whole transaction rolls back
    assert stored(engine, REQUESTS) == []


def test_a_row_without_every_column_or_a_defaulted_column_left_out_is_refused(engine):
    with pytest.raises(ValueError, match="default"):
        RawInsert(REQUESTS, ["id", "token"])  # created_at has a default a Core INSERT would apply
    row = request_row(1)
    with pytest.raises(ValueError, match="exactly"), engine.begin() as conn:
        insert_raw(conn, REQUESTS, [row, {**row, "erasure_reason": None}])
