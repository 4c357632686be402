"""Transactional outbox and processed-event keys: the two tables every service DB carries.

An event is written as an ``OutboxEvent`` row in the same transaction as the state change;
the relay (``shared.platform.relay``) publishes it afterwards. A consumer writes a ``ProcessedEvent``
row in the same transaction as its effect, so a redelivered event has no second effect.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Connection, CursorResult, Index, Text, UniqueConstraint, delete, or_
from sqlmodel import Field, Session, SQLModel

from shared.contracts.events import Event, event_payload_json
from shared.platform.clock import utcnow
from shared.platform.db import insert_raw, table_of


class OutboxEvent(SQLModel, table=True):
    __tablename__ = "outbox_event"
    __table_args__ = (Index("ix_outbox_unpublished", "published_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(index=True, unique=True, max_length=36)
    stream: str = Field(max_length=120)
    event_type: str = Field(max_length=60)
    correlation_id: str = Field(max_length=64)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    published_at: datetime | None = None
    # Lease taken by one relay (instance) while it publishes the row; an expired lease (crashed
    # relay) lets another relay take the row again.
    claimed_by: str | None = Field(default=None, max_length=32)
    claimed_until: datetime | None = None
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)


class ProcessedEvent(SQLModel, table=True):
    __tablename__ = "processed_event"
    __table_args__ = (UniqueConstraint("consumer_group", "event_id", name="uq_processed_event"),
                      Index("ix_processed_event_at", "processed_at"))  # the purge's range (shared.platform.housekeeping)

    id: int | None = Field(default=None, primary_key=True)
    consumer_group: str = Field(max_length=60)
    event_id: str = Field(max_length=36)
    stream: str = Field(max_length=120)
    processed_at: datetime = Field(default_factory=utcnow)


BACKBONE_TABLES = (OutboxEvent, ProcessedEvent)


OUTBOX_WRITTEN = "mlp_outbox_written"  # session.info flag: the relay wakes when such a session commits

_OUTBOX_TABLE = table_of(OutboxEvent)
_PROCESSED_TABLE = table_of(ProcessedEvent)


def outbox_row(event: Event) -> dict[str, object]:
    """The outbox row of an event, for :func:`add_to_outbox` or :func:`insert_outbox_rows`."""
    return {
        "event_id": str(event.event_id),
        "stream": event.stream,
        "event_type": event.event_type,
        "correlation_id": event.correlation_id,
        "payload": event_payload_json(event),
        "created_at": utcnow(),
        "attempts": 0,
    }


def add_to_outbox(session: Session, event: Event) -> None:
    """Stage an event for publication; it leaves only if the surrounding transaction commits.

    Neither an ORM object nor SQLAlchemy's execution of a Core INSERT: nothing reads the row back in
    the transaction, and both cost more than the statement itself. The driver's executemany on the
    session's connection (:class:`shared.platform.db.RawInsert`), in the same transaction."""
    insert_raw(session.connection(), _OUTBOX_TABLE, [outbox_row(event)])
    session.info[OUTBOX_WRITTEN] = True


def insert_outbox_rows(connection: Connection, rows: list[dict[str, object]]) -> None:
    """Stage several outbox rows (one executemany) on a Core connection inside its transaction.
    Nothing flags the connection for the relay: the caller wakes it after the commit."""
    insert_raw(connection, _OUTBOX_TABLE, rows)  # the driver's executemany (shared.platform.db.RawInsert)


def mark_processed(session: Session, group: str, stream: str, event_ids: list[str]) -> None:
    """Store the processed-event keys (unique per group): a duplicate raises IntegrityError (as
    SQLAlchemy raises it: RawInsert, same transaction)."""
    now = utcnow()
    insert_raw(session.connection(), _PROCESSED_TABLE, [
        {"consumer_group": group, "event_id": event_id, "stream": stream, "processed_at": now}
        for event_id in event_ids
    ])


def delete_published_about(session: Session, request_id: str) -> int:
    """On erasure: drop the published outbox rows whose event names the request (its own id or,
    for a follow-up, ``original_request_id``): they are copies of its personal data (contact,
    message, replies). Unpublished rows must still leave; the purge (``shared.platform.housekeeping``)
    keeps this scan to a few days of rows."""
    t = table_of(OutboxEvent)
    result = session.execute(delete(t).where(
        t.c.published_at.is_not(None),
        or_(t.c.payload.contains(f'request_id": "{request_id}"'), t.c.payload.contains(f'request_id":"{request_id}"')),
    ))
    assert isinstance(result, CursorResult)  # a DELETE's result: it carries the row count
    return int(result.rowcount or 0)
