"""All SQL of the matcher. Functions take the caller's session and never commit; staged rows are written
by the next autoflush or the commit."""

from __future__ import annotations

import json
import threading
import weakref
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, Insert, and_, bindparam, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from services.matcher.models import (
    Assignment,
    MonthlyLoad,
    ReviewAction,
    ReviewItem,
    RoutedRequest,
    RoutingDecision,
    utcnow,
)
from shared.platform.db import table_of


def get_request(session: Session, request_id: str) -> RoutedRequest | None:
    return session.get(RoutedRequest, request_id)


# Hot statements, built once with bind parameters (their cache keys are then computed once, not on
# every event): statement construction cost more than execution. On the Core table and run on the
# session's connection: the ORM's execute path doubled the cost of this plain two-column read.
_REQUESTS = table_of(RoutedRequest)
_SEEN_COLUMNS = select(_REQUESTS.c.request_id, _REQUESTS.c.needs).order_by(_REQUESTS.c.submitted_at)
_SEEN = _SEEN_COLUMNS.where(_REQUESTS.c.request_id == bindparam("request_id"))
_SEEN_OR_REPEAT = _SEEN_COLUMNS.where(or_(
    _REQUESTS.c.request_id == bindparam("request_id"),
    and_(_REQUESTS.c.company_key == bindparam("company_key"), _REQUESTS.c.submitted_at >= bindparam("since"),
         _REQUESTS.c.original_request_id.is_(None), _REQUESTS.c.erased_at.is_(None)),
))


def seen_or_repeat(session: Session, request_id: str, company_key: str | None, needs: set[str],
                   since: datetime) -> tuple[bool, str | None]:
    """(``request_id`` is already stored, else the id of the company's earliest original request
    (not a follow-up, not erased) sharing a need since ``since``), in one query."""
    if session.autoflush:
        # What the ORM's execute did before reading: an earlier follow-up of the same batch
        # (followup.record_merged) may have changed an original's needs without a flush yet.
        session.flush()
    conn = session.connection()
    if company_key:
        rows = conn.execute(_SEEN_OR_REPEAT, {"request_id": request_id, "company_key": company_key, "since": since}).all()
    else:
        rows = conn.execute(_SEEN, {"request_id": request_id}).all()
    if any(other == request_id for other, _ in rows):
        return True, None
    return False, next((other for other, other_needs in rows if needs & set(other_needs.split(","))), None)


def add(session: Session, *rows: object) -> None:
    """Stage rows: they are written together by the next flush (a query's autoflush or the commit),
    one INSERT per table, instead of one flush per call."""
    session.add_all(rows)


@dataclass
class _MonthLoads:
    month: str
    loads: dict[str, int]
    total: int  # the month's running total (its TOTAL_UAI row) the loads were read with


# The month's running total: a row of the table under a name no UAI has (UAIs are 7 digits and a
# letter), counted up by every increment_loads in the same statement as the UAIs' rows.
TOTAL_UAI = "*"

# The last month's loads read from each database: see month_loads.
_loads_cache: weakref.WeakKeyDictionary[Engine, _MonthLoads] = weakref.WeakKeyDictionary()
_loads_lock = threading.Lock()

# Read on every routing: built once with bind parameters (cache key computed once).
_LOADS = table_of(MonthlyLoad)
_MONTH_TOTAL = select(_LOADS.c["count"]).where(_LOADS.c.uai == bindparam("uai"), _LOADS.c.month == bindparam("month"))
_MONTH_LOADS = select(_LOADS.c.uai, _LOADS.c["count"]).where(_LOADS.c.month == bindparam("month"))


def month_loads(session: Session, month: str) -> dict[str, int]:
    """Requests routed to each UAI in ``month``, as seen by the caller's transaction.

    Late in a month the table holds a row for most lycées, and reading them all cost more than the
    rest of a routing. Every change to the table goes through increment_loads, which counts up the
    month's running total (its ``TOTAL_UAI`` row) in the same statement: a cached copy read with the
    table's current total is the table. One point query on the unique (uai, month) index checks it
    (an aggregate over the month's rows cost 0.5 ms an event late in a month), and the rows are read
    again only when another writer (another process, a transaction rolled back after increment_loads
    updated the copy) changed them.
    """
    conn = session.connection()
    total = conn.execute(_MONTH_TOTAL, {"uai": TOTAL_UAI, "month": month}).scalar() or 0
    with _loads_lock:
        cached = _loads_cache.get(conn.engine)
        if cached is not None and (cached.month, cached.total) == (month, total):
            return dict(cached.loads)
    loads: dict[str, int] = dict(conn.execute(_MONTH_LOADS, {"month": month}).all())
    total = loads.pop(TOTAL_UAI, 0)
    with _loads_lock:
        _loads_cache[conn.engine] = _MonthLoads(month, dict(loads), total)
    return loads


_LOAD_UPSERTS: dict[str, Insert] = {}


def _load_upsert(dialect: str) -> Insert:
    """INSERT ... ON CONFLICT (uai, month) DO UPDATE SET count = count + excluded.count, built once."""
    if dialect not in _LOAD_UPSERTS:
        table = table_of(MonthlyLoad)
        stmt = (postgresql if dialect == "postgresql" else sqlite).insert(table)
        _LOAD_UPSERTS[dialect] = stmt.on_conflict_do_update(
            index_elements=["uai", "month"], set_={"count": table.c["count"] + stmt.excluded["count"]})
    return _LOAD_UPSERTS[dialect]


def increment_loads(session: Session, uais: Iterable[str], month: str) -> None:
    """One upsert for all the UAIs (count + 1 each, a new row at 1) and the month's running total,
    in UAI order so that concurrent transactions lock the rows in the same order (PostgreSQL). The
    total (``TOTAL_UAI`` sorts before every UAI) is locked first: a transaction that waits for it
    holds no other row of the table, so batches of several routings cannot deadlock on loads."""
    counts = Counter(uais)
    if not counts:
        return
    added = sum(counts.values())
    conn = session.connection()
    conn.execute(_load_upsert(conn.dialect.name), [{"uai": TOTAL_UAI, "month": month, "count": added}]
                 + [{"uai": u, "month": month, "count": n} for u, n in sorted(counts.items())])
    with _loads_lock:  # the cached copy follows, so that the next month_loads needs no re-read
        cached = _loads_cache.get(conn.engine)
        if cached is not None and cached.month == month:
            cached.total += added
            for uai, n in counts.items():
                cached.loads[uai] = cached.loads.get(uai, 0) + n


def assignments_of(session: Session, request_id: str) -> list[Assignment]:
    return list(session.exec(
        select(Assignment).where(Assignment.request_id == request_id).order_by(col(Assignment.created_at))
    ).all())


def get_assignment(session: Session, assignment_id: str) -> Assignment | None:
    return session.get(Assignment, assignment_id)


def decisions_of(session: Session, request_id: str) -> list[RoutingDecision]:
    return list(session.exec(
        select(RoutingDecision).where(RoutingDecision.request_id == request_id)
        .order_by(col(RoutingDecision.created_at))
    ).all())


def latest_ranked_decision(session: Session, request_id: str) -> RoutingDecision | None:
    """The last decision that ranked candidates (initial or escalation, not manual)."""
    for decision in reversed(decisions_of(session, request_id)):
        if decision.kind != "manual" and json.loads(decision.candidates):
            return decision
    return None


def open_review(session: Session, request_id: str, reason: str, academie: str | None, fallback: str | None) -> None:
    item = session.get(ReviewItem, request_id)
    if item is None:
        session.add(ReviewItem(request_id=request_id, reason=reason, academie=academie, fallback_email=fallback))
    else:  # back in the queue: a referent's page offered before this is stale
        item.reason, item.resolved_at, item.resolution = reason, None, None
        item.version += 1
        session.add(item)


def list_review(session: Session, include_resolved: bool = False, limit: int = 200,
                academie: str | None = None) -> list[ReviewItem]:
    query = select(ReviewItem).order_by(col(ReviewItem.created_at)).limit(limit)
    if not include_resolved:
        query = query.where(col(ReviewItem.resolved_at).is_(None))
    if academie is not None:
        query = query.where(col(ReviewItem.academie) == academie)
    return list(session.exec(query).all())


_ITEMS = table_of(ReviewItem)


def claim_review(session: Session, request_id: str, seen_version: int, *, actor: str, actor_name: str | None,
                 resolution: str, academie: str | None, now: datetime) -> bool:
    """Take the request for one action, exactly once: a conditional UPDATE on the version the referent was
    offered (PostgreSQL: a concurrent claim waits for this one's commit, then matches no row), or, for a
    request never queued (version 0), an INSERT that does nothing on a conflict. False: someone else did."""
    values = dict(resolved_at=now, handled_by=actor, handled_by_name=actor_name, handled_at=now, resolution=resolution)
    conn = session.connection()
    updated = conn.execute(_ITEMS.update().where(_ITEMS.c.request_id == request_id, _ITEMS.c.version == seen_version)
                           .values(version=_ITEMS.c.version + 1, **values))
    if updated.rowcount == 1:
        session.expire_all()
        return True
    if seen_version != 0:
        return False
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    inserted = conn.execute(dialect.insert(_ITEMS).values(
        request_id=request_id, reason="referent", academie=academie, created_at=now, version=1, **values,
    ).on_conflict_do_nothing(index_elements=["request_id"]))
    return inserted.rowcount == 1


def get_action(session: Session, key: str) -> ReviewAction | None:
    return session.get(ReviewAction, key)


def get_review(session: Session, request_id: str) -> ReviewItem | None:
    return session.get(ReviewItem, request_id)


def resolve_review(session: Session, item: ReviewItem) -> None:
    item.resolved_at = utcnow()
    session.add(item)


def erase_request(session: Session, request_id: str, scrubbed_payload: str) -> bool:
    row = session.get(RoutedRequest, request_id)
    if row is None:
        return False
    row.payload = scrubbed_payload
    row.company_key = None
    row.erased_at = utcnow()
    session.add(row)
    return True
