"""All SQL of the intake service. Functions take a Session; none of them commits."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, text, update
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from services.intake.models import CompanyRequest, IdempotencyKey, TimelineEntry
from shared.platform.db import column_values, insert_raw, insert_rows, table_of


# ------------------------------------------------------------- requests
def get_request(session: Session, request_id: str) -> CompanyRequest | None:
    return session.get(CompanyRequest, request_id)


@dataclass(frozen=True)
class RequestState:
    """The few columns the timeline handlers read: loading the whole request as an ORM object
    (JSON columns, a dozen fields) was the largest cost of handling an event."""

    id: str
    academie: str | None
    first_routed_at: datetime | None
    first_answered_at: datetime | None
    anonymised_at: datetime | None


# Hot statements, built once with bind parameters (their cache keys are then computed once).
# More than four columns: SQLAlchemy's select (sqlmodel's is typed for up to four), read with execute.
_LOCK_STATE = select_columns(
    col(CompanyRequest.id), col(CompanyRequest.academie), col(CompanyRequest.first_routed_at),
    col(CompanyRequest.first_answered_at), col(CompanyRequest.anonymised_at),
).where(col(CompanyRequest.id) == bindparam("request_id")).with_for_update()
_COUNT_RECENT_MANY = select(col(CompanyRequest.contact_email), func.count()).where(
    col(CompanyRequest.contact_email).in_(bindparam("emails", expanding=True)),
    col(CompanyRequest.created_at) >= bindparam("since"),
).group_by(col(CompanyRequest.contact_email))


def lock_request_state(session: Session, request_id: str) -> RequestState | None:
    """The request's state, row-locked until commit (PostgreSQL): events about one request apply
    one at a time."""
    row = session.execute(_LOCK_STATE, {"request_id": request_id}).first()
    return RequestState(*row) if row is not None else None


_REQUESTS = table_of(CompanyRequest)
_UPDATES: dict[tuple[str, ...], Any] = {}


def update_request(session: Session, request_id: str, **values: object) -> None:
    """Set a few columns of one request, for callers that hold a ``RequestState`` (no loaded ORM
    copy to keep in sync). One statement per set of columns, built once: building it on every
    event cost more than running it."""
    columns = tuple(sorted(values))
    statement = _UPDATES.get(columns)
    if statement is None:
        statement = _UPDATES[columns] = (
            update(_REQUESTS).where(_REQUESTS.c.id == bindparam("_request_id"))
            .values({name: bindparam(name) for name in columns})
        )
    session.execute(statement, {"_request_id": request_id, **values})


def get_by_token(session: Session, token: str) -> CompanyRequest | None:
    return session.exec(select(CompanyRequest).where(CompanyRequest.token == token)).first()


_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def lock_contact_emails(connection: Connection, emails: Iterable[str]) -> None:
    """On PostgreSQL, one transaction-scoped advisory lock per contact address, taken before the
    per-address count: two instances accepting the same address at the same moment then count one
    after the other (READ COMMITTED: the second count, a new statement, sees the first commit), so
    the limit holds across instances. Sorted, so that two batches cannot wait on each other.
    SQLite needs none: its write transaction already holds the database's single write lock."""
    if connection.dialect.name != "postgresql":
        return
    for email in sorted(set(emails)):
        key = int.from_bytes(hashlib.blake2b(email.encode(), digest_size=8).digest(), "big", signed=True)
        connection.execute(_ADVISORY_LOCK, {"key": key})


def count_recent_by_emails(db: Session | Connection, emails: Iterable[str], since: datetime) -> dict[str, int]:
    """Requests per contact email since ``since``, for several addresses in one query (absent: none)."""
    rows = db.execute(_COUNT_RECENT_MANY, {"emails": list(emails), "since": since})
    return {email: int(n) for email, n in rows}


def insert_requests(connection: Connection, rows: list[dict[str, object]]) -> None:
    """Request rows as plain dicts (see submission.stage), one driver executemany."""
    insert_raw(connection, _REQUESTS, rows)


def expired_requests(session: Session, before: datetime, limit: int) -> list[CompanyRequest]:
    query = (
        select(CompanyRequest)
        .where(col(CompanyRequest.created_at) < before, col(CompanyRequest.anonymised_at).is_(None))
        .order_by(col(CompanyRequest.created_at))
        .limit(limit)
    )
    return list(session.exec(query).all())


def requests_since(session: Session, since: datetime | None) -> list[tuple]:
    """The columns the impact page needs (no personal data)."""
    query = select_columns(
        col(CompanyRequest.created_at), col(CompanyRequest.needs), col(CompanyRequest.academie),
        col(CompanyRequest.first_routed_at), col(CompanyRequest.first_answered_at),
        col(CompanyRequest.source_kind), col(CompanyRequest.in_pilot),
    )
    if since is not None:
        query = query.where(col(CompanyRequest.created_at) >= since)
    return list(session.execute(query).all())


def impact_rows_since(session: Session, since: datetime | None) -> list[tuple]:
    """What the impact figures (v2) need of each request, no personal data: (id, created_at, needs,
    academie, source_kind, first_routed_at, first_answered_at, source_partner, in_pilot)."""
    query = select_columns(
        col(CompanyRequest.id), col(CompanyRequest.created_at), col(CompanyRequest.needs),
        col(CompanyRequest.academie), col(CompanyRequest.source_kind), col(CompanyRequest.first_routed_at),
        col(CompanyRequest.first_answered_at), col(CompanyRequest.source_partner), col(CompanyRequest.in_pilot),
    )
    if since is not None:
        query = query.where(col(CompanyRequest.created_at) >= since)
    return list(session.execute(query).all())


# ------------------------------------------------------------- timeline
_ENTRY_DEFAULTS = {"text": "", "author": None, "assignment_id": None, "assignment_status": None}


def entry_row(request_id: str, at: datetime, kind: str, title: str, **fields: object) -> dict[str, object]:
    """A timeline row for :func:`add_entry` without building a ``TimelineEntry`` (whose
    constructor cost as much as the INSERT on the routed-event path)."""
    return {**_ENTRY_DEFAULTS, "lycees": [], "request_id": request_id, "at": at, "kind": kind, "title": title,
            **fields}


def add_entry(session: Session, *entries: TimelineEntry | dict[str, object]) -> None:
    insert_rows(session, TimelineEntry, [e if isinstance(e, dict) else column_values(e) for e in entries])


_INSERT_ENTRY = insert(TimelineEntry.__table__)  # type: ignore[attr-defined]
_TIMELINE_TABLE = table_of(TimelineEntry)


def add_entry_rows(db: Session | Connection, rows: list[dict[str, object]]) -> None:
    """Timeline rows from :func:`entry_row`, one executemany, on a Session or a Core connection (there
    by the driver's own executemany: the accept path)."""
    if isinstance(db, Connection):
        insert_raw(db, _TIMELINE_TABLE, rows)
    else:
        db.execute(_INSERT_ENTRY, rows)


def timeline(session: Session, request_id: str) -> list[TimelineEntry]:
    query = (
        select(TimelineEntry)
        .where(TimelineEntry.request_id == request_id)
        .order_by(col(TimelineEntry.at), col(TimelineEntry.id))
    )
    return list(session.exec(query).all())


def routed_entry(session: Session, request_id: str, assignment_id: str) -> TimelineEntry | None:
    query = select(TimelineEntry).where(
        TimelineEntry.request_id == request_id,
        TimelineEntry.assignment_id == assignment_id,
        TimelineEntry.kind == "routed",
    )
    return session.exec(query).first()


@dataclass(frozen=True)
class AssignmentEntry:
    id: int
    assignment_id: str
    assignment_status: str | None
    lycees: list[str]


_TIMELINE = table_of(TimelineEntry)
_ASSIGNMENT_ENTRIES = select(
    _TIMELINE.c.id, _TIMELINE.c.assignment_id, _TIMELINE.c.assignment_status, _TIMELINE.c.lycees,
).where(
    _TIMELINE.c.request_id == bindparam("request_id"),
    _TIMELINE.c.assignment_id.in_(bindparam("assignment_ids", expanding=True)),
    _TIMELINE.c.kind == "assignment",
)
_NAME_ENTRY = (update(_TIMELINE).where(_TIMELINE.c.id == bindparam("entry_id"))
               .values(lycees=bindparam("lycees"), title=bindparam("title")))


def assignment_entries(session: Session, request_id: str, assignment_ids: list[str]) -> list[AssignmentEntry]:
    """The assignment entries of these assignments, in one query (nearly always none: they are
    only there when an assignment change overtook the routing event)."""
    rows = session.execute(_ASSIGNMENT_ENTRIES, {"request_id": request_id, "assignment_ids": assignment_ids})
    return [AssignmentEntry(*row) for row in rows]


def name_entry(session: Session, entry_id: int, lycees: list[str], title: str) -> None:
    session.execute(_NAME_ENTRY, {"entry_id": entry_id, "lycees": lycees, "title": title})


def scrub_timeline(session: Session, request_id: str) -> None:
    for entry in timeline(session, request_id):
        if entry.text:
            entry.text = ""
            session.add(entry)


# ------------------------------------------------------------- idempotency
_IDEMPOTENCY = IdempotencyKey.__table__  # type: ignore[attr-defined]
_GET_IDEMPOTENCY = select(_IDEMPOTENCY.c.body_hash, _IDEMPOTENCY.c.request_id).where(
    _IDEMPOTENCY.c.key == bindparam("key"))
_TOKEN_OF = select(_REQUESTS.c.token).where(_REQUESTS.c.id == bindparam("request_id"))
_INSERT_IDEMPOTENCY = insert(_IDEMPOTENCY)


def idempotency_record(db: Session | Connection, key: str) -> tuple[str, str] | None:
    """(body hash, request id) stored for an Idempotency-Key."""
    row = db.execute(_GET_IDEMPOTENCY, {"key": key}).first()
    return (row[0], row[1]) if row is not None else None


def token_of(db: Session | Connection, request_id: str) -> str | None:
    return db.execute(_TOKEN_OF, {"request_id": request_id}).scalar_one_or_none()


def insert_idempotency(db: Session | Connection, rows: list[dict[str, object]]) -> None:
    db.execute(_INSERT_IDEMPOTENCY, rows)


def delete_idempotency_for(session: Session, request_id: str) -> None:
    session.exec(delete(IdempotencyKey).where(col(IdempotencyKey.request_id) == request_id))
