"""Run stream handlers inside one database transaction with their processed-event keys.

A handler is a plain function ``handler(event, session)``; it may return an async callable to
run after the commit (side effects leave after commit). The ``ProcessedEvent`` key of every
event is inserted in the same transaction as the handler's effect, so a redelivered event has
no second effect.

Under load a consumer reads several entries at once; :func:`handle_batch` then handles them all
in **one** transaction (one write lock, one commit, one thread hop instead of one per event).
Any failure rolls the whole batch back and the caller retries its events one transaction each,
so one bad event never blocks or half-applies the others.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import Engine, bindparam
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from shared.contracts.events import Event
from shared.platform.logging import correlation_scope
from shared.platform.outbox import ProcessedEvent, mark_processed

# Built once (bind parameters): its cache key is computed once, not on every batch.
_SEEN = select(ProcessedEvent.event_id).where(
    ProcessedEvent.consumer_group == bindparam("group"), col(ProcessedEvent.event_id).in_(bindparam("ids", expanding=True))
)

AfterCommit = Callable[[], Awaitable[None]]
Handler = Callable[[Any, Session], AfterCommit | None]


class Duplicate:
    """Outcome of an event whose key was already stored: it had its effect before."""

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return "DUPLICATE"


DUPLICATE = Duplicate()


def handle_one(engine: Engine, group: str, stream: str, handler: Handler, event: Event) -> AfterCommit | Duplicate | None:
    """One event, one transaction. Returns its after-commit callable, or ``DUPLICATE``."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            mark_processed(session, group, stream, [str(event.event_id)])
        except IntegrityError:
            session.rollback()
            return DUPLICATE
        try:
            after_commit = handler(event, session)
            session.commit()
        except IntegrityError:
            # A concurrent delivery of the same event committed first (PostgreSQL).
            session.rollback()
            if already_processed(engine, group, [str(event.event_id)]):
                return DUPLICATE
            raise
        except BaseException:
            session.rollback()
            raise
        return after_commit


def handle_batch(
    engine: Engine, group: str, stream: str, handler: Handler, events: Sequence[Event]
) -> list[AfterCommit | Duplicate | None]:
    """All ``events`` in one transaction, in order; raises (after rollback) if any of them fails."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            ids = [str(e.event_id) for e in events]
            seen = set(session.execute(_SEEN, {"group": group, "ids": ids}).scalars())
            outcomes: list[AfterCommit | Duplicate | None] = []
            fresh: list[str] = []
            for event, event_id in zip(events, ids, strict=True):
                if event_id in seen:  # stored before, or earlier in this very batch
                    outcomes.append(DUPLICATE)
                    continue
                seen.add(event_id)
                fresh.append(event_id)
                # Events of a batch come from different requests: each runs under its own id, which
                # the handler copies into the events it publishes.
                with correlation_scope(event.correlation_id):
                    outcomes.append(handler(event, session))
            if fresh:  # a concurrent consumer that stored one of them first makes this fail: split
                mark_processed(session, group, stream, fresh)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return outcomes


def already_processed(engine: Engine, group: str, event_ids: list[str]) -> bool:
    with Session(engine) as session:
        found = session.exec(
            select(ProcessedEvent.event_id).where(
                ProcessedEvent.consumer_group == group, col(ProcessedEvent.event_id).in_(event_ids)
            )
        ).all()
        return len(set(found)) == len(set(event_ids))
