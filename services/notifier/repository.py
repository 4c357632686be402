"""All SQL of the notifier. Functions take the caller's session; none of them commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, Row, and_, bindparam, case, func, insert, or_, update
from sqlmodel import Session, col, select

from services.notifier.models import (
    ActionUse,
    InboundEmail,
    InboundRelayed,
    OutboundEmail,
    Participant,
    ReferentAction,
    SenderVouch,
    Thread,
    ThreadEntry,
)
from shared.platform.db import column_values, insert_rows, table_of

# ------------------------------------------------------------------ threads & participants
_THREADS = table_of(Thread)
_THREAD_ID_BY_REQUEST = select(_THREADS.c.id).where(_THREADS.c.request_id == bindparam("request_id"))
# The lookups of every event (escalation, follow-up, reply), built once with bind parameters:
# building a statement and its cache key cost more CPU than running it.
_THREAD_BY_REQUEST = select(Thread).where(Thread.request_id == bindparam("request_id"))
_THREAD_BY_TOKEN = select(Thread).where(Thread.token == bindparam("token"))
_PARTICIPANT_BY_TOKEN = select(Participant).where(Participant.thread_id == bindparam("thread_id"),
                                                  Participant.token == bindparam("token"))
_PARTICIPANTS = (select(Participant).where(Participant.thread_id == bindparam("thread_id"))
                 .order_by(col(Participant.created_at), col(Participant.id)))
_ACTIVE_PARTICIPANTS = _PARTICIPANTS.where(Participant.active == True)  # noqa: E712
_PARTICIPANT_BY_ASSIGNMENT = select(Participant).where(
    Participant.thread_id == bindparam("thread_id"), Participant.assignment_id == bindparam("assignment_id"),
    Participant.active == True)  # noqa: E712


def thread_by_request(session: Session, request_id: str) -> Thread | None:
    return session.exec(_THREAD_BY_REQUEST, params={"request_id": request_id}).first()


def thread_exists_for(session: Session, request_id: str) -> bool:
    """Cheaper than ``thread_by_request`` when the answer is nearly always no (a new request)."""
    return session.execute(_THREAD_ID_BY_REQUEST, {"request_id": request_id}).first() is not None


def thread_by_token(session: Session, token: str) -> Thread | None:
    return session.exec(_THREAD_BY_TOKEN, params={"token": token}).first()


def thread(session: Session, thread_id: str) -> Thread | None:
    return session.get(Thread, thread_id)


def lock_thread(session: Session, thread_id: str) -> Thread | None:
    """The thread, its row locked until the transaction ends (PostgreSQL; SQLite's transactions
    already run one at a time): what is read next is what the previous holder committed. Every
    change to a thread's participants takes it first (reminder pass, reply, one-click action), so
    two instances never decide from the same stale state. The thread is reloaded even if the
    session holds it already."""
    return session.exec(select(Thread).where(Thread.id == thread_id).with_for_update()
                        .execution_options(populate_existing=True)).first()


def thread_id_of_participant(session: Session, participant_id: str) -> str | None:
    """Only the id: loading the participant before its thread is locked would keep a stale copy."""
    return session.exec(select(Participant.thread_id).where(Participant.id == participant_id)).first()


def participant(session: Session, participant_id: str) -> Participant | None:
    return session.get(Participant, participant_id)


def participant_by_token(session: Session, thread_id: str, token: str) -> Participant | None:
    return session.exec(_PARTICIPANT_BY_TOKEN, params={"thread_id": thread_id, "token": token}).first()


def participants(session: Session, thread_id: str, *, active_only: bool = False) -> list[Participant]:
    query = _ACTIVE_PARTICIPANTS if active_only else _PARTICIPANTS
    return list(session.exec(query, params={"thread_id": thread_id}))


def participant_by_assignment(session: Session, thread_id: str, assignment_id: str) -> Participant | None:
    return session.exec(_PARTICIPANT_BY_ASSIGNMENT,
                        params={"thread_id": thread_id, "assignment_id": assignment_id}).first()


def threads_to_check(session: Session, lead_since_before: datetime, routed_before: datetime) -> list[str]:
    """Ids of the threads not erased and not both answered and given up, with a pending active
    lead since ``lead_since_before`` or earlier not yet reminded or not yet expired, or neither
    answered nor given up and routed at ``routed_before`` or earlier: what the reminder pass may
    act on, read in one statement instead of visiting every thread ever opened."""
    lead = (select(Participant.id)
            .where(Participant.thread_id == Thread.id, col(Participant.active).is_(True),
                   Participant.role == "lead", Participant.status == "pending",
                   col(Participant.lead_since).is_not(None), col(Participant.lead_since) <= lead_since_before,
                   or_(col(Participant.reminded_at).is_(None), col(Participant.expired_at).is_(None)))
            .exists())
    unanswered = and_(col(Thread.first_answer_at).is_(None), col(Thread.gave_up_at).is_(None))
    query = (select(Thread.id)
             .where(col(Thread.erased).is_(False),
                    or_(col(Thread.gave_up_at).is_(None), col(Thread.first_answer_at).is_(None)),
                    or_(lead, and_(unanswered, col(Thread.routed_at) <= routed_before))))
    return list(session.exec(query))


def active_school_participants(session: Session, email: str) -> list[Participant]:
    """The active lycée-side participants (lead, copy) with this address, in threads not erased."""
    query = (select(Participant).join(Thread, col(Thread.id) == col(Participant.thread_id))
             .where(func.lower(Participant.email) == email.strip().lower(), col(Participant.active).is_(True),
                    col(Participant.role).in_(("lead", "copy")), col(Thread.erased).is_(False))
             .order_by(col(Participant.created_at)))
    return list(session.exec(query).all())


def entries(session: Session, thread_id: str) -> list[ThreadEntry]:
    return list(session.exec(select(ThreadEntry).where(ThreadEntry.thread_id == thread_id)
                             .order_by(col(ThreadEntry.created_at))))


def assignment_counts(session: Session) -> dict[str, int]:
    rows = session.exec(
        select(Participant.status, func.count()).where(col(Participant.role).in_(("lead", "copy")))
        .group_by(Participant.status)
    ).all()
    return {status: count for status, count in rows}


def outbound_backlog(session: Session) -> tuple[int, datetime | None]:
    """Copies not sent yet (waiting for their first try or a retry) and when the oldest was queued."""
    count, oldest = session.exec(
        select(func.count(), func.min(OutboundEmail.created_at)).where(OutboundEmail.status == "pending")
    ).one()
    return int(count), oldest


def unanswered_routed_before(session: Session, before: datetime) -> list[datetime]:
    """Routing times of live threads not answered yet nor given up, routed before ``before``."""
    return list(session.exec(
        select(Thread.routed_at).where(
            col(Thread.first_answer_at).is_(None), col(Thread.gave_up_at).is_(None),
            col(Thread.erased).is_(False), col(Thread.routed_at) <= before,
        )
    ).all())


# ------------------------------------------------------------------ outbound copies
_OUT = table_of(OutboundEmail)
# Read once per copy of every entry but a thread's first (built once, as above).
_LAST_MESSAGE_ID_TO = (select(OutboundEmail.message_id).where(OutboundEmail.participant_id == bindparam("participant_id"))
                       .order_by(col(OutboundEmail.id).desc()))


def last_message_id_to(session: Session, participant_id: str) -> str | None:
    return session.exec(_LAST_MESSAGE_ID_TO, params={"participant_id": participant_id}).first()


# The sender's statements are built once, on the tables (no ORM entity: plain rows, no ORM
# compilation per call); building them per call cost more CPU than running them.
_PART = table_of(Participant)
_INSERT = insert(_OUT)
_FREE = or_(_OUT.c.lease_until.is_(None), _OUT.c.lease_until < bindparam("now"))
# Lead copies first, then the other RBEs' copies, then the company's (and anything else).
_PRIORITY = case((_PART.c.role == "lead", 0), (_PART.c.role.in_(("copy", "fallback")), 1), else_=2)
# Priority applies within a window of the oldest due rows, read in the order of ix_outbound_due
# and cut there: ordering the whole backlog by priority sorted every pending row at each lease,
# under the write lock (22 ms per lease at 10,000 pending copies, growing with the backlog).
LEASE_WINDOW_FACTOR = 4


def _due(locked: bool):
    window = (select(_OUT.c.id, _OUT.c.participant_id)
              .where(_OUT.c.status == "pending", _OUT.c.next_attempt_at <= bindparam("now"), _FREE)
              .order_by(_OUT.c.next_attempt_at).limit(bindparam("window")))
    if locked:
        window = window.with_for_update(skip_locked=True)
    oldest = window.subquery("oldest")
    return (select(oldest.c.id).select_from(oldest.outerjoin(_PART, _PART.c.id == oldest.c.participant_id))
            .order_by(_PRIORITY, oldest.c.id).limit(bindparam("limit")))


_DUE = _due(locked=False)
_DUE_LOCKED = _due(locked=True)
# What a send needs, returned by the lease itself.
LEASED_COLUMNS = ("id", "kind", "raw", "envelope_from", "to_email", "message_id", "correlation_id",
                  "attempts", "participant_id")
_LEASE = (update(_OUT).where(_OUT.c.id.in_(bindparam("ids", expanding=True)), _OUT.c.status == "pending", _FREE)
          .values(lease_until=bindparam("until")).returning(*(_OUT.c[name] for name in LEASED_COLUMNS)))
_MARK_SENT = (update(_OUT).where(_OUT.c.id.in_(bindparam("ids", expanding=True)))
              .values(status="sent", sent_at=bindparam("now"), attempts=_OUT.c.attempts + 1, lease_until=None)
              .returning(_OUT.c.kind))
_RELEASE = update(_OUT).where(_OUT.c.id.in_(bindparam("ids", expanding=True))).values(lease_until=None)
# A failed attempt: retried later, or dead (then its due time no longer matters).
_RETRY_LATER = (update(_OUT).where(_OUT.c.id == bindparam("row_id"))
                .values(attempts=bindparam("tries"), last_error=bindparam("error"), next_attempt_at=bindparam("due"),
                        lease_until=None))
_DEAD = (update(_OUT).where(_OUT.c.id == bindparam("row_id"))
         .values(status="dead", attempts=bindparam("tries"), last_error=bindparam("error"), lease_until=None))
_NEXT_DUE = select(func.min(_OUT.c.next_attempt_at)).where(_OUT.c.status == "pending", _FREE)


def insert_new_thread(session: Session, thread: Thread, participants: Sequence[Participant], entry: ThreadEntry) -> None:
    """A thread created whole in this transaction, inserted with one statement per table: no ORM
    flush (the objects stay unattached, for the templates), which cost more than the statements.
    Ids are generated in Python, so nothing is read back."""
    insert_rows(session, Thread, [column_values(thread)])
    insert_rows(session, Participant, [column_values(p) for p in participants])
    insert_rows(session, ThreadEntry, [column_values(entry)])


def insert_outbound(session: Session, rows: list[dict]) -> None:
    """Queue copies in ONE statement (executemany), without ORM objects: no RETURNING round trip
    per row (SQLite gives no ordered RETURNING, so the ORM inserts such rows one by one).
    Nothing references these rows, so they may precede the pending ORM rows they name."""
    if rows:
        session.execute(_INSERT, rows)


def lease_due_batch(session: Session | Connection, now: datetime, until: datetime, limit: int) -> list[Row]:
    """Lease up to ``limit`` due rows (compare-and-set on ``lease_until``), lead copies first among
    the ``LEASE_WINDOW_FACTOR * limit`` oldest due rows, and return their ``LEASED_COLUMNS``.
    Only rows whose lease this call set are returned, so two senders on one database never get
    the same row (PostgreSQL: ``FOR UPDATE SKIP LOCKED``; SQLite: one writer)."""
    dialect = session.dialect if isinstance(session, Connection) else session.get_bind().dialect
    due = _DUE_LOCKED if dialect.name == "postgresql" else _DUE
    # Two statements, not UPDATE ... IN (subquery LIMIT): PostgreSQL may evaluate such a subquery
    # more than once and lease more than ``limit`` rows. The ids are locked (PostgreSQL) or the
    # write lock is held since BEGIN IMMEDIATE (SQLite); the UPDATE re-checks the lease anyway
    # and returns what the sends need (in no defined order: the SELECT's order is restored).
    ids = list(session.execute(due, {"now": now, "limit": limit, "window": limit * LEASE_WINDOW_FACTOR}).scalars())
    if not ids:
        return []
    leased = session.execute(_LEASE, {"ids": ids, "now": now, "until": until}).all()
    rank = {row_id: i for i, row_id in enumerate(ids)}
    return sorted(leased, key=lambda row: rank[row.id])


def mark_sent(session: Session | Connection, ids: Sequence[int], now: datetime) -> list[str]:
    """Sent rows, in one statement; returns the kinds of the rows updated (for the metrics)."""
    if not ids:
        return []
    return list(session.execute(_MARK_SENT, {"ids": list(ids), "now": now}).scalars())


def release(session: Session | Connection, ids: Sequence[int]) -> None:
    """Leases given back untouched (rows not attempted): another pass sends them."""
    if ids:
        session.execute(_RELEASE, {"ids": list(ids)})


def record_failures(session: Session | Connection, retry: list[dict], dead: list[dict]) -> None:
    """Failed attempts, one executemany each: ``retry`` rows (``row_id``, ``tries``, ``error``,
    ``due``) wait until ``due``; ``dead`` rows (``row_id``, ``tries``, ``error``) stop."""
    if retry:
        session.execute(_RETRY_LATER, retry)
    if dead:
        session.execute(_DEAD, dead)


def next_due_at(session: Session | Connection, now: datetime) -> datetime | None:
    """When the earliest pending, unleased row becomes due (the sender sleeps until then at most)."""
    return session.execute(_NEXT_DUE, {"now": now}).scalar()


def outbound(session: Session, row_id: int) -> OutboundEmail | None:
    return session.get(OutboundEmail, row_id)


def outbound_for_thread(session: Session, thread_id: str) -> list[OutboundEmail]:
    return list(session.exec(select(OutboundEmail).where(OutboundEmail.thread_id == thread_id)
                             .order_by(col(OutboundEmail.id))))


def cancel_pending(session: Session, thread_id: str) -> None:
    session.execute(update(OutboundEmail).where(col(OutboundEmail.thread_id) == thread_id,
                                                col(OutboundEmail.status) == "pending").values(status="cancelled"))


def wipe_thread_content(session: Session, thread_id: str) -> None:
    session.execute(update(OutboundEmail).where(col(OutboundEmail.thread_id) == thread_id).values(raw=b""))
    session.execute(update(InboundEmail).where(col(InboundEmail.thread_id) == thread_id).values(raw=b""))
    session.execute(update(ThreadEntry).where(col(ThreadEntry.thread_id) == thread_id).values(text=""))


# ------------------------------------------------------------------ inbound & actions
def inbound(session: Session, inbound_id: str) -> InboundEmail | None:
    return session.get(InboundEmail, inbound_id)


def unprocessed_inbound_ids(session: Session) -> Sequence[str]:
    return session.exec(select(InboundEmail.id).where(InboundEmail.outcome == "received")
                        .order_by(col(InboundEmail.received_at))).all()


def already_relayed(session: Session, thread_id: str, message_key: str) -> bool:
    return session.get(InboundRelayed, (thread_id, message_key)) is not None


def mark_relayed(session: Session, thread_id: str, message_key: str, inbound_id: str) -> None:
    """Inserted (and flushed) with the relay: a concurrent second relay of the same message fails on
    the primary key and its transaction rolls back."""
    session.add(InboundRelayed(thread_id=thread_id, message_key=message_key, inbound_id=inbound_id))
    session.flush()


def vouched(session: Session, thread_id: str, participant_id: str, sender_hash: str) -> bool:
    return session.get(SenderVouch, (thread_id, participant_id, sender_hash)) is not None


def vouch(session: Session, thread_id: str, participant_id: str, sender_hash: str) -> None:
    if not vouched(session, thread_id, participant_id, sender_hash):
        session.add(SenderVouch(thread_id=thread_id, participant_id=participant_id, sender_hash=sender_hash))
        session.flush()


def held_inbound(session: Session, limit: int = 200, academie: str | None = None) -> Sequence[InboundEmail]:
    """Held replies not released yet, oldest first (the review list); ``academie``: of its threads only."""
    query = select(InboundEmail).where(InboundEmail.outcome == "held")
    if academie is not None:
        query = query.join(Thread, col(Thread.id) == col(InboundEmail.thread_id)).where(Thread.academie == academie)
    return session.exec(query.order_by(col(InboundEmail.received_at)).limit(limit)).all()


def given_up_threads(session: Session, academie: str | None = None, limit: int = 200) -> list[Thread]:
    """Requests nobody answered, after the reminders and escalations (the give-up step), oldest first."""
    query = select(Thread).where(col(Thread.gave_up_at).is_not(None), col(Thread.first_answer_at).is_(None),
                                 col(Thread.erased).is_(False))
    if academie is not None:
        query = query.where(Thread.academie == academie)
    return list(session.exec(query.order_by(col(Thread.gave_up_at)).limit(limit)))


def referent_action(session: Session, key: str) -> ReferentAction | None:
    return session.get(ReferentAction, key)


def referent_action_on(session: Session, detail: str, actions: tuple[str, ...]) -> ReferentAction | None:
    """The referent's action whose ``detail`` names this object (a held reply's id)."""
    return session.exec(select(ReferentAction).where(ReferentAction.detail == detail,
                                                     col(ReferentAction.action).in_(actions))).first()


def action_used(session: Session, nonce: str) -> bool:
    return session.get(ActionUse, nonce) is not None


def add(session: Session, *objects) -> None:
    for obj in objects:
        session.add(obj)
    session.flush()
