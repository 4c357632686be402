"""All SQL of the notifier. Functions take the caller's session; none of them commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, func, insert, or_, update
from sqlmodel import Session, col, select

from services.notifier.models import (
    ActionUse,
    InboundEmail,
    OutboundEmail,
    Participant,
    Thread,
    ThreadEntry,
)


# ------------------------------------------------------------------ threads & participants
def thread_by_request(session: Session, request_id: str) -> Thread | None:
    return session.exec(select(Thread).where(Thread.request_id == request_id)).first()


def thread_by_token(session: Session, token: str) -> Thread | None:
    return session.exec(select(Thread).where(Thread.token == token)).first()


def thread(session: Session, thread_id: str) -> Thread | None:
    return session.get(Thread, thread_id)


def participant(session: Session, participant_id: str) -> Participant | None:
    return session.get(Participant, participant_id)


def participant_by_token(session: Session, thread_id: str, token: str) -> Participant | None:
    return session.exec(
        select(Participant).where(Participant.thread_id == thread_id, Participant.token == token)
    ).first()


def participants(session: Session, thread_id: str, *, active_only: bool = False) -> list[Participant]:
    query = select(Participant).where(Participant.thread_id == thread_id)
    if active_only:
        query = query.where(Participant.active == True)  # noqa: E712
    return list(session.exec(query.order_by(col(Participant.created_at), col(Participant.id))))


def participant_by_assignment(session: Session, thread_id: str, assignment_id: str) -> Participant | None:
    return session.exec(
        select(Participant).where(Participant.thread_id == thread_id, Participant.assignment_id == assignment_id,
                                  Participant.active == True)  # noqa: E712
    ).first()


def open_threads(session: Session) -> list[Thread]:
    return list(session.exec(select(Thread).where(Thread.erased == False)))  # noqa: E712


def entries(session: Session, thread_id: str) -> list[ThreadEntry]:
    return list(session.exec(select(ThreadEntry).where(ThreadEntry.thread_id == thread_id)
                             .order_by(col(ThreadEntry.created_at))))


def assignment_counts(session: Session) -> dict[str, int]:
    rows = session.exec(
        select(Participant.status, func.count()).where(col(Participant.role).in_(("lead", "copy")))
        .group_by(Participant.status)
    ).all()
    return {status: count for status, count in rows}


def unanswered_routed_before(session: Session, before: datetime) -> list[datetime]:
    """Routing times of live threads not answered yet nor given up, routed before ``before``."""
    return list(session.exec(
        select(Thread.routed_at).where(
            col(Thread.first_answer_at).is_(None), col(Thread.gave_up_at).is_(None),
            col(Thread.erased).is_(False), col(Thread.routed_at) <= before,
        )
    ).all())


# ------------------------------------------------------------------ outbound copies
def last_message_id_to(session: Session, participant_id: str) -> str | None:
    return session.exec(
        select(OutboundEmail.message_id).where(OutboundEmail.participant_id == participant_id)
        .order_by(col(OutboundEmail.id).desc())
    ).first()


def insert_outbound(session: Session, rows: list[dict]) -> None:
    """Queue copies in ONE statement (executemany), without ORM objects: no flush, no RETURNING
    round trip per row (SQLite gives no ordered RETURNING, so the ORM inserts such rows one by
    one). Nothing references these rows, so they may precede the pending ORM rows they name."""
    if rows:
        session.execute(insert(OutboundEmail.__table__), rows)  # type: ignore[attr-defined]


def _send_priority():
    """Lead copies first, then the other RBEs' copies, then the company's (and anything else)."""
    return case((Participant.role == "lead", 0), (col(Participant.role).in_(("copy", "fallback")), 1), else_=2)


def lease_due_batch(session: Session, now: datetime, until: datetime, limit: int) -> list[OutboundEmail]:
    """Lease up to ``limit`` due rows in one statement (compare-and-set on ``lease_until``), lead
    copies first. Only rows whose lease this call set are returned, so two senders on one
    database never get the same row (PostgreSQL: ``FOR UPDATE SKIP LOCKED``; SQLite: one writer)."""
    free = or_(col(OutboundEmail.lease_until).is_(None), col(OutboundEmail.lease_until) < now)
    due = (select(OutboundEmail.id)
           .join(Participant, col(Participant.id) == col(OutboundEmail.participant_id), isouter=True)
           .where(OutboundEmail.status == "pending", OutboundEmail.next_attempt_at <= now, free)
           .order_by(_send_priority(), col(OutboundEmail.id)).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True, of=OutboundEmail)  # type: ignore[arg-type]
    # Two statements, not UPDATE ... IN (subquery LIMIT): PostgreSQL may evaluate such a subquery
    # more than once and lease more than ``limit`` rows. The ids are locked (PostgreSQL) or the
    # write lock is held since BEGIN IMMEDIATE (SQLite); the UPDATE re-checks the lease anyway.
    ids = list(session.exec(due))
    if not ids:
        return []
    leased = session.execute(
        update(OutboundEmail).where(col(OutboundEmail.id).in_(ids), OutboundEmail.status == "pending", free)
        .values(lease_until=until).returning(OutboundEmail.id)
    ).scalars().all()
    if not leased:
        return []
    return list(session.exec(
        select(OutboundEmail).join(Participant, col(Participant.id) == col(OutboundEmail.participant_id), isouter=True)
        .where(col(OutboundEmail.id).in_(leased)).order_by(_send_priority(), col(OutboundEmail.id))
    ))


def outbound_by_ids(session: Session, ids: Sequence[int]) -> dict[int, OutboundEmail]:
    rows = session.exec(select(OutboundEmail).where(col(OutboundEmail.id).in_(list(ids))))
    return {row.id: row for row in rows if row.id is not None}


def next_due_at(session: Session, now: datetime) -> datetime | None:
    """When the earliest pending, unleased row becomes due (the sender sleeps until then at most)."""
    return session.exec(select(func.min(OutboundEmail.next_attempt_at)).where(
        OutboundEmail.status == "pending",
        or_(col(OutboundEmail.lease_until).is_(None), col(OutboundEmail.lease_until) < now),
    )).first()


def outbound(session: Session, row_id: int) -> OutboundEmail | None:
    return session.get(OutboundEmail, row_id)


def outbound_for_thread(session: Session, thread_id: str) -> list[OutboundEmail]:
    return list(session.exec(select(OutboundEmail).where(OutboundEmail.thread_id == thread_id)
                             .order_by(col(OutboundEmail.id))))


def cancel_pending(session: Session, thread_id: str) -> None:
    session.execute(update(OutboundEmail).where(OutboundEmail.thread_id == thread_id,
                                                OutboundEmail.status == "pending").values(status="cancelled"))


def wipe_thread_content(session: Session, thread_id: str) -> None:
    session.execute(update(OutboundEmail).where(OutboundEmail.thread_id == thread_id).values(raw=b""))
    session.execute(update(InboundEmail).where(InboundEmail.thread_id == thread_id).values(raw=b""))
    session.execute(update(ThreadEntry).where(ThreadEntry.thread_id == thread_id).values(text=""))


# ------------------------------------------------------------------ inbound & actions
def inbound(session: Session, inbound_id: str) -> InboundEmail | None:
    return session.get(InboundEmail, inbound_id)


def unprocessed_inbound_ids(session: Session) -> Sequence[str]:
    return session.exec(select(InboundEmail.id).where(InboundEmail.outcome == "received")
                        .order_by(col(InboundEmail.received_at))).all()


def action_used(session: Session, nonce: str) -> bool:
    return session.get(ActionUse, nonce) is not None


def add(session: Session, *objects) -> None:
    for obj in objects:
        session.add(obj)
    session.flush()
