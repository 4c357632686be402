"""Throttled, resumable mailings: one row per recipient, each message handed to SMTP at most once.

For a mailing an operator starts and may have to start again (the campaign invitations of intake,
the lycées' mailing of issue 22), not for the notifier's threads (its own sender, at least once).
The contract, also in docs/architecture.md#mailings:

* **One row per recipient**, in a table of the service whose columns are :class:`MailingFields`
  (``class Invitation(MailingFields, table=True)`` plus the service's own columns, and
  :func:`mailing_indexes` in ``__table_args__``). The service inserts the rows (``pending``) in
  the transaction that decides who gets the message; a unique key of its own (one invitation per
  contact) makes that insert idempotent, so deciding again never adds a second row.
* **A leased sender** (:class:`LeasedMailer`) sends the rows of one ``mailing`` (a campaign id, a
  lycées' mailing id) one at a time, at most ``rate_per_min`` per minute. For each row, ONE
  transaction leases it (``pending`` → ``sending``, ``lease_until``, ``lease_owner``, compare-and-set;
  PostgreSQL ``FOR UPDATE SKIP LOCKED``, SQLite one writer) and composes the message from the
  database (``compose(connection, row)``, which may cancel the row instead: unsubscribed since);
  then the message goes to SMTP over a kept connection; then one transaction records the outcome
  (``sent`` with ``sent_at``; a 4xx: ``pending`` again after a backoff; a 5xx, or ``max_attempts``
  reached: ``dead``).
* **Crash (kill -9) and restart**: a ``sent`` row is never sent again; a ``pending`` one is sent by
  the next run. A row left ``sending`` by a dead process is the window between SMTP and the
  database: the server may or may not have accepted it. Once its lease has expired the next run marks
  it ``uncertain`` and does **not** send it again (at most once: a duplicate invitation is worse
  than a missing one); ``retry_uncertain=True`` (the operator checked the mail relay's log for its
  ``Message-ID``) puts such rows back to ``pending``. Within one run, a connection lost before the
  message's content left (envelope refused by a closed connection) is a plain retry; lost after it,
  the row is ``uncertain`` too.
* Two senders on the same mailing share the work without sending a row twice (the lease).

The sender does its database work on a thread of its own (``DbThreads``), so a service may run it
as a background task; the command line runs it with ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, Index, Row, Table, UniqueConstraint, func, select, update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Field, SQLModel

from shared.platform import smtp
from shared.platform.clock import utcnow
from shared.platform.db_threads import DbThreads
from shared.platform.logging import get_logger

log = get_logger(__name__)

STATUSES = ("pending", "sending", "sent", "dead", "cancelled", "uncertain")
# A connection lost before the content left: the row is retried at once on a new connection, this
# many times in a row at most; then the run stops (the SMTP server is down) and the row waits.
MAX_RECONNECTS = 4


class MailingFields(SQLModel):
    """The columns every mailing row has (a mixin: the service's table adds its own)."""

    id: int | None = Field(default=None, primary_key=True)
    mailing: str = Field(max_length=40)  # which mailing the row belongs to (campaign id, ...)
    to_email: str | None = Field(default=None, max_length=320)  # None once the personal data is erased
    message_id: str = Field(max_length=200)  # precomputed: the relay's log finds an uncertain row by it
    status: str = Field(default="pending", max_length=10)  # one of STATUSES
    attempts: int = 0  # leases taken (tries started)
    next_attempt_at: datetime = Field(default_factory=utcnow)
    lease_until: datetime | None = None
    lease_owner: str | None = Field(default=None, max_length=80)
    sent_at: datetime | None = None
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow)


def mailing_indexes(table_name: str) -> tuple:
    """The ``__table_args__`` items a mailing table needs: the due rows of a mailing, unique Message-IDs."""
    return (Index(f"ix_{table_name}_due", "mailing", "status", "next_attempt_at"),
            UniqueConstraint("message_id", name=f"uq_{table_name}_message_id"))


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A composed message (an ``smtp.Message``)."""

    sender: str
    recipient: str
    raw: bytes


@dataclass(frozen=True, slots=True)
class Cancel:
    """What ``compose`` returns for a row that must not be sent any more (why, in a few words)."""

    reason: str


Compose = Callable[[Connection, Row], Outgoing | Cancel]


@dataclass
class MailingReport:
    """One run of a mailing: what this run did, then where every row of the mailing stands."""

    sent: int = 0  # sent by this run
    cancelled: int = 0  # cancelled by this run (compose said so)
    retried: int = 0  # attempts of this run that failed and will be retried (4xx)
    recovered_uncertain: int = 0  # rows found ``sending`` after a crash, marked uncertain by this run
    smtp_down: bool = False  # the run stopped: the SMTP server could not be reached
    stopped_at_limit: bool = False
    totals: dict[str, int] = field(default_factory=dict)  # status -> rows of the mailing

    def total(self, status: str) -> int:
        return self.totals.get(status, 0)


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:80]


class LeasedMailer:
    """Sends the rows of one mailing of ``table`` (see the module's contract)."""

    def __init__(
        self, engine: Engine, table: Table, mailing: str, compose: Compose, *, smtp_url: str,
        rate_per_min: float | None = None, lease_s: float = 120.0, smtp_timeout_s: float = 30.0,
        max_attempts: int = 5, retry_base_s: float = 60.0, max_wait_s: float = 0.0,
        scope: ColumnElement[bool] | None = None, owner: str | None = None,
        clock: Callable[[], datetime] = utcnow, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        progress: Callable[[MailingReport], None] | None = None,
    ) -> None:
        self.engine, self.table, self.mailing, self.compose = engine, table, mailing, compose
        self.smtp_url = smtp.SmtpUrl.parse(smtp_url)
        self.interval_s = 60.0 / rate_per_min if rate_per_min else 0.0
        self.lease = timedelta(seconds=lease_s)
        # A send never outlives its lease: past it, another sender would call the row uncertain.
        self.smtp_timeout_s = min(smtp_timeout_s, lease_s / 3)
        self.max_attempts = max_attempts
        self.retry_base_s = retry_base_s
        self.max_wait_s = max_wait_s
        self.owner = owner or default_owner()
        self.clock, self.sleep, self.progress = clock, sleep, progress
        t = table.c
        self._scope = t.mailing == mailing if scope is None else (t.mailing == mailing) & scope
        self._db = DbThreads("mailing-db", workers=1)
        self._conn: smtp.SmtpConnection[Outgoing] | None = None
        self._tls: ssl.SSLContext | None = None

    # ------------------------------------------------------------------ the run
    async def run(self, limit: int | None = None, retry_uncertain: bool = False) -> MailingReport:
        """Send every due row of the mailing (``limit``: stop after that many sent); waits for
        retries due within ``max_wait_s``. Returns what it did and where the mailing stands."""
        report = MailingReport()
        try:
            report.recovered_uncertain = await self._db.run(self._recover, retry_uncertain)
            last_start: float | None = None
            reconnects = 0
            while limit is None or report.sent < limit:
                if last_start is not None and self.interval_s:
                    await self.sleep(max(0.0, last_start + self.interval_s - time.monotonic()))
                if self._conn is None or not self._conn.usable:  # connect only when something is due
                    wait = await self._db.run(self._next_due_in)
                    if wait is None or wait > self.max_wait_s:
                        break
                    if wait > 0:
                        await self.sleep(wait)
                        continue
                try:
                    conn = await self._connection()
                except (smtp.SmtpError, OSError) as exc:
                    reconnects += 1
                    log.warning("mailing_smtp_unreachable", mailing=self.mailing, error=type(exc).__name__)
                    if reconnects > MAX_RECONNECTS:
                        report.smtp_down = True
                        break
                    await self.sleep(min(5.0, 0.2 * 2 ** reconnects))
                    continue
                leased = await self._db.run(self._lease_one)
                if leased is None:
                    wait = await self._db.run(self._next_due_in)
                    if wait is None or wait > self.max_wait_s:
                        break
                    await self.sleep(max(0.01, wait))
                    continue
                row_id, message = leased
                if isinstance(message, Cancel):
                    report.cancelled += 1
                    continue
                last_start = time.monotonic()
                outcome = await self._send(conn, message)
                if outcome == "reconnect":
                    reconnects += 1
                    await self._db.run(self._release, row_id)
                    if reconnects > MAX_RECONNECTS:
                        report.smtp_down = True
                        break
                    continue
                reconnects = 0
                if isinstance(outcome, BaseException):
                    retried = await self._db.run(self._record_failure, row_id, outcome)
                    report.retried += retried
                elif outcome == "uncertain":
                    await self._db.run(self._record_uncertain, row_id)
                else:
                    await self._db.run(self._record_sent, row_id)
                    report.sent += 1
                    if self.progress is not None:
                        self.progress(report)
            else:
                report.stopped_at_limit = True
            report.totals = await self._db.run(self._totals)
        finally:
            self._close()
            self._db.shutdown()
        return report

    async def _connection(self) -> smtp.SmtpConnection[Outgoing]:
        if self._conn is not None and self._conn.usable:
            return self._conn
        self._close()
        if self.smtp_url.secure and self._tls is None:
            self._tls = await asyncio.to_thread(ssl.create_default_context)
        self._conn = await self.smtp_url.connect(self.smtp_timeout_s, self._tls)
        return self._conn

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def _send(self, conn: smtp.SmtpConnection[Outgoing], message: Outgoing) -> str | BaseException:
        """"sent", a refusal (the exception), "reconnect" (lost before the content left: nothing was
        accepted) or "uncertain" (lost after: the server may have accepted it)."""
        outcomes: list[Exception | None] = []
        rounds = conn.rounds
        try:
            await conn.send_all(message, lambda: None, lambda _, error: outcomes.append(error))
        except (OSError, TimeoutError) as exc:  # smtp.SmtpDisconnected is a ConnectionError
            self._close()
            log.warning("mailing_connection_lost", mailing=self.mailing, error=type(exc).__name__,
                        after_content=conn.rounds != rounds)
            return "reconnect" if conn.rounds == rounds else "uncertain"
        except smtp.SmtpError as exc:
            return exc
        error = outcomes[0] if outcomes else None
        return error if error is not None else "sent"

    # ------------------------------------------------------------------ database (own thread)
    def _recover(self, retry_uncertain: bool) -> int:
        """Rows a dead process left ``sending`` (lease expired): ``uncertain``; with
        ``retry_uncertain``, every uncertain row of the mailing goes back to ``pending``."""
        t, now = self.table.c, self.clock()
        with self.engine.begin() as conn:
            count = conn.execute(update(self.table).where(
                self._scope, t.status == "sending", t.lease_until < now,
            ).values(status="uncertain", lease_until=None,
                     last_error="processus interrompu pendant l'envoi : acceptation par le serveur inconnue")).rowcount
            if retry_uncertain:
                conn.execute(update(self.table).where(self._scope, t.status == "uncertain")
                             .values(status="pending", next_attempt_at=now, lease_owner=None))
        if count:
            log.warning("mailing_uncertain_rows", mailing=self.mailing, count=count)
        return count or 0

    def _lease_one(self) -> tuple[int, Outgoing | Cancel] | None:
        t, now = self.table.c, self.clock()
        due = (select(t.id).where(self._scope, t.status == "pending", t.next_attempt_at <= now)
               .order_by(t.next_attempt_at, t.id).limit(1))
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            row_id = conn.execute(due).scalar()
            if row_id is None:
                return None
            row = conn.execute(
                update(self.table).where(t.id == row_id, t.status == "pending")
                .values(status="sending", lease_until=now + self.lease, lease_owner=self.owner,
                        attempts=t.attempts + 1)
                .returning(*self.table.c)).first()
            if row is None:  # taken by another sender between the two statements
                return None
            message = self.compose(conn, row)
            if isinstance(message, Cancel):
                conn.execute(update(self.table).where(t.id == row_id)
                             .values(status="cancelled", lease_until=None, last_error=message.reason[:500]))
        return row_id, message

    def _mine(self, row_id: int) -> ColumnElement[bool]:
        t = self.table.c
        return (t.id == row_id) & (t.lease_owner == self.owner) & t.status.in_(("sending", "uncertain"))

    def _record_sent(self, row_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(self.table).where(self._mine(row_id))
                         .values(status="sent", sent_at=self.clock(), lease_until=None, last_error=None))

    def _record_uncertain(self, row_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(self.table).where(self._mine(row_id)).values(
                status="uncertain", lease_until=None,
                last_error="connexion perdue après l'envoi du contenu : acceptation par le serveur inconnue"))

    def _release(self, row_id: int) -> None:
        """Nothing left for the server: the row is due again at once, the try not counted."""
        t = self.table.c
        with self.engine.begin() as conn:
            conn.execute(update(self.table).where(self._mine(row_id))
                         .values(status="pending", lease_until=None, attempts=t.attempts - 1))

    def _record_failure(self, row_id: int, error: BaseException) -> int:
        """A refusal: 4xx is retried after a backoff (1 returned), 5xx or the last try is dead."""
        t = self.table.c
        text = f"{type(error).__name__}: {error}"[:500]
        with self.engine.begin() as conn:
            attempts = conn.execute(select(t.attempts).where(t.id == row_id)).scalar() or 1
            if isinstance(error, smtp.SmtpTemporaryError) and attempts < self.max_attempts:
                due = self.clock() + timedelta(seconds=self.retry_base_s * 2 ** (attempts - 1))
                conn.execute(update(self.table).where(self._mine(row_id)).values(
                    status="pending", lease_until=None, next_attempt_at=due, last_error=text))
                log.warning("mailing_send_retry", mailing=self.mailing, row_id=row_id, attempts=attempts)
                return 1
            conn.execute(update(self.table).where(self._mine(row_id))
                         .values(status="dead", lease_until=None, last_error=text))
        log.error("mailing_send_dead", mailing=self.mailing, row_id=row_id, attempts=attempts)
        return 0

    def _next_due_in(self) -> float | None:
        """Seconds until the next pending row of the mailing is due (None: none is pending)."""
        t = self.table.c
        with self.engine.begin() as conn:
            due = conn.execute(select(func.min(t.next_attempt_at)).where(self._scope, t.status == "pending")).scalar()
        if due is None:
            return None
        now = self.clock()
        if due.tzinfo is None:
            now = now.replace(tzinfo=None)
        return max(0.0, (due - now).total_seconds())

    def _totals(self) -> dict[str, int]:
        return mailing_totals(self.engine, self.table, self._scope)


def mailing_totals(engine: Engine, table: Table, where: ColumnElement[bool]) -> dict[str, int]:
    """Rows per status."""
    t = table.c
    with engine.begin() as conn:
        rows = conn.execute(select(t.status, func.count()).where(where).group_by(t.status)).all()
    return {status: int(count) for status, count in rows}
