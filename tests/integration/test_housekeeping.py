"""The backbone's bookkeeping is purged (published outbox rows, processed-event keys), on SQLite
and PostgreSQL; an index added later reaches tables that already exist."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import REGISTRY
from sqlalchemy import inspect, text
from sqlmodel import Session, select

from shared.contracts.events import CatalogChanged
from shared.platform.db import create_tables, make_engine
from shared.platform.housekeeping import purge_backbone
from shared.platform.outbox import (
    BACKBONE_TABLES,
    OutboxEvent,
    ProcessedEvent,
    add_to_outbox,
    mark_processed,
    utcnow,
)


def _deleted(service: str, table: str) -> float:
    return REGISTRY.get_sample_value("mlp_housekeeping_deleted_total", {"service": service, "table": table}) or 0.0


def test_purge_drops_old_published_rows_and_old_keys_only(database_url):
    engine = make_engine(database_url)
    create_tables(engine, BACKBONE_TABLES)
    now = utcnow()
    with Session(engine) as session:
        for i in range(7):
            add_to_outbox(session, CatalogChanged(correlation_id=f"c{i}", uais=[], change="profile"))
        mark_processed(session, "g", "s", [f"old{i}" for i in range(5)] + ["recent"])
        session.commit()
    with Session(engine) as session:
        rows = session.exec(select(OutboxEvent).order_by(OutboxEvent.id)).all()
        # five published 8 days ago, one published yesterday, one never published (8 days old)
        for row in rows[:5]:
            row.published_at = now - timedelta(days=8)
        rows[5].published_at = now - timedelta(days=1)
        rows[6].created_at = now - timedelta(days=8)
        keep = {rows[5].id, rows[6].id}
        for key in session.exec(select(ProcessedEvent)).all():
            key.processed_at = now - timedelta(days=31 if key.event_id.startswith("old") else 29)
            session.add(key)
        session.add_all(rows)
        session.commit()
    before = _deleted("svc", "outbox_event")

    # batches of 2: the purge goes on until a batch comes back short
    assert purge_backbone(engine, "svc", outbox_keep_days=7, processed_keep_days=30, batch=2) == {
        "outbox_event": 5, "processed_event": 5}
    with Session(engine) as session:
        assert {row.id for row in session.exec(select(OutboxEvent)).all()} == keep
        assert [key.event_id for key in session.exec(select(ProcessedEvent)).all()] == ["recent"]
    assert _deleted("svc", "outbox_event") - before == 5
    assert purge_backbone(engine, "svc", outbox_keep_days=7, processed_keep_days=30) == {
        "outbox_event": 0, "processed_event": 0}
    engine.dispose()


def test_an_index_added_later_is_created_on_an_existing_table(database_url):
    engine = make_engine(database_url)
    create_tables(engine, BACKBONE_TABLES)
    with engine.begin() as conn:  # a database created before the index existed
        conn.execute(text("DROP INDEX ix_processed_event_at"))
    assert "ix_processed_event_at" not in {i["name"] for i in inspect(engine).get_indexes("processed_event")}
    create_tables(engine, BACKBONE_TABLES)
    assert "ix_processed_event_at" in {i["name"] for i in inspect(engine).get_indexes("processed_event")}
    engine.dispose()
