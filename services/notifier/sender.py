"""Background sender: delivers pending OutboundEmail rows through ``MLP_SMTP_URL``.

One pass leases a batch of due rows in ONE transaction (compare-and-set on ``lease_until``, lead
copies first) and reads them in the same call, sends them with bounded concurrency
(``MLP_SEND_CONCURRENCY``) over SMTP connections kept open between passes (a broken one is
replaced), pipelined when the server allows it (``shared.platform.smtp``), then records every
outcome of the batch in one transaction. A row whose connection broke has a few quick tries within the pass; a
refused or failed attempt schedules the next one with exponential backoff; after
``max_send_attempts`` the row is ``dead`` and counted. A row is the unit of idempotency: a
redelivered event or a restart never creates a second one. All database work runs on the
sender's own single database thread, never on the event loop nor the shared default pool.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from services.notifier import metrics
from services.notifier import repository as repo
from services.notifier.config import NotifierSettings
from services.notifier.service.calendar import Clock, system_clock
from shared.platform import smtp
from shared.platform.db_threads import DbThreads
from shared.platform.logging import get_logger, new_correlation_id

log = get_logger(__name__)

# The connection broke (or never opened): what it carried is retried at once on another one.
TRANSIENT = (OSError, TimeoutError)  # smtp.SmtpDisconnected is a ConnectionError


@dataclass(frozen=True)
class Leased:
    """What one send needs, read in the lease transaction (no ORM object crosses threads)."""

    id: int
    kind: str
    raw: bytes
    sender: str
    recipient: str
    message_id: str
    correlation_id: str | None
    attempts: int = 0  # failed attempts before this lease


@dataclass(frozen=True)
class Ahead:
    """What a record transaction leased for the next pass, or when the next retry is due."""

    rows: list[Leased]
    leased_at: float  # time.monotonic() of the lease
    next_due: datetime | None
    now: datetime


@dataclass
class Outcome:
    row: Leased
    error: Exception | None = None
    skipped: bool = False  # the lease was about to expire: released untouched, another pass sends it


class OutboundSender:
    def __init__(self, engine: Engine, settings: NotifierSettings, clock: Clock = system_clock) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.wake_event = asyncio.Event()
        self.smtp_url = smtp.SmtpUrl.parse(settings.smtp_url)
        self._tls: ssl.SSLContext | None = None  # built once, on the first TLS connection
        self._db = DbThreads("notifier-sender-db", workers=1)
        self._idle: list[smtp.SmtpConnection[Leased]] = []  # open connections between sends
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop the connections belong to
        self._stopping = False
        self.stopped = asyncio.Event()

    async def stop(self) -> None:
        """A clean stop (SIGTERM): finish the sends in flight and record them, release what is
        leased but not started, then return. Cancelling a pass instead would leave sent rows
        unrecorded, and the next process would send them again once their lease ends."""
        self._stopping = True
        self.wake_event.set()
        await self.stopped.wait()

    def wake(self) -> None:
        self.wake_event.set()

    # ------------------------------------------------------------------ loop
    async def run(self) -> None:
        """Pass after pass. The transaction recording a batch also leases the next one (or learns
        when the next retry is due): a busy sender costs one transaction per batch, an idle one
        two per wake-up (lease, record), instead of an extra empty lease and a next-retry query."""
        ahead: Ahead | None = None
        try:
            while not self._stopping:
                self.wake_event.clear()  # before the pass: a wake during the pass triggers another one
                try:
                    handled, ahead = await self._pass(ahead, look_ahead=True)
                    if ahead is not None:
                        wait = 0.0 if ahead.rows else self._wait_until(ahead.next_due, ahead.now)
                    else:
                        wait = 0.0 if handled else await self._idle_wait()
                except Exception as exc:  # database hiccup: try again at the next tick
                    log.warning("sender_pass_failed", error=type(exc).__name__)
                    ahead, wait = None, self.settings.send_poll_s
                if wait > 0:
                    try:
                        await asyncio.wait_for(self.wake_event.wait(), timeout=wait)
                    except TimeoutError:
                        pass
            if ahead is not None and ahead.rows:
                await self._db_call(self._release, [row.id for row in ahead.rows])
        finally:
            await self.close()
            self.stopped.set()

    async def _idle_wait(self) -> float:
        """Sleep until woken, or until the next retry is due; the poll interval is only a safety net."""
        now = self.clock()
        return self._wait_until(await self._db_call(self._next_due, now), now)

    def _wait_until(self, next_due: datetime | None, now: datetime) -> float:
        if next_due is None:
            return self.settings.send_poll_s
        return min(self.settings.send_poll_s, max(0.01, (next_due - now).total_seconds()))

    async def close(self) -> None:
        conns, self._idle = self._idle, []
        if self._loop is asyncio.get_running_loop():
            for conn in conns:
                conn.close()

    # ------------------------------------------------------------------ one pass
    async def send_due(self, limit: int | None = None) -> int:
        """Send one batch of what is due now; returns the number of rows handled (sent, failed or dead)."""
        return (await self._pass(None, limit))[0]

    async def _pass(self, ahead: Ahead | None, limit: int | None = None,
                    look_ahead: bool = False) -> tuple[int, Ahead | None]:
        """Lease (unless ``ahead`` holds rows leased already), send, record; with ``look_ahead``
        the record transaction leases the next batch."""
        throttled = self.settings.send_pause_s > 0  # one row at a time, with a pause (tests kill between sends)
        size = 1 if throttled else (limit or self.settings.send_batch_size)
        if ahead is not None and ahead.rows:
            rows, leased_at = ahead.rows, ahead.leased_at
        else:
            now = self.clock()
            leased_at = time.monotonic()
            rows = await self._db_call(self._lease_batch, now, now + timedelta(seconds=self.settings.send_lease_s),
                                       size)
        if not rows:
            return 0, None
        self._adopt_loop()
        # Stop starting sends well before the lease ends: after that another instance may take the row.
        deadline = leased_at + max(1.0, self.settings.send_lease_s - self.settings.smtp_timeout_s * 2)
        queue = deque(rows)
        outcomes: list[Outcome] = []
        workers = min(len(rows), max(1, self.settings.send_concurrency))
        if workers == 1:
            await self._worker(queue, outcomes, deadline)
        else:
            await asyncio.gather(*(self._worker(queue, outcomes, deadline) for _ in range(workers)))
        # Never lease ahead when throttled: a process killed during the pause would leave them leased.
        ahead = await self._db_call(self._record, outcomes, 0 if throttled or not look_ahead else size)
        info = log.bind().info  # one logger for the batch, not one per line
        for outcome in outcomes:
            if outcome.error is None and not outcome.skipped:
                row = outcome.row
                info("email_sent", kind=row.kind, message_id=row.message_id,
                     correlation_id=row.correlation_id or new_correlation_id())
        if throttled:
            await asyncio.sleep(self.settings.send_pause_s)
        return sum(1 for o in outcomes if not o.skipped), ahead

    async def _worker(self, queue: deque[Leased], outcomes: list[Outcome], deadline: float) -> None:
        """Take rows from the shared queue and send them over one connection at a time; a row whose
        connection broke is retried on a fresh one, up to ``send_quick_retries`` tries in the pass
        (a kept connection found dead on its first exchange does not count)."""
        again: deque[Leased] = deque()  # this worker's rows to retry
        tries: dict[int, int] = {}

        def next_row() -> Leased | None:
            while again or queue:
                row = again.popleft() if again else queue.popleft()
                if time.monotonic() <= deadline and not self._stopping:
                    return row
                outcomes.append(Outcome(row, skipped=True))
            return None

        def done(row: Leased, error: Exception | None) -> None:
            outcomes.append(Outcome(row, error))

        while (first := next_row()) is not None:
            conn, stale, rounds = None, False, 0
            try:
                conn = self._kept_connection()
                stale = conn is not None
                if conn is None:
                    conn = await self._connect()
                rounds = conn.rounds
                await conn.send_all(first, next_row, done)
            except TRANSIENT as exc:
                in_flight = conn.in_flight if conn is not None else [first]
                stale = stale and conn is not None and conn.rounds == rounds  # closed by the server while kept: not a try
                pause = 0.0
                for row in in_flight:
                    tries[row.id] = count = tries.get(row.id, 0) + (0 if stale else 1)
                    if count >= max(1, self.settings.send_quick_retries):
                        outcomes.append(Outcome(row, error=exc))
                    else:
                        again.append(row)
                        pause = max(pause, 0 if stale else min(2.0, 0.2 * 2 ** (count - 1)))
                if conn is not None:
                    conn.close()
                    conn = None
                if pause:
                    await asyncio.sleep(pause)
            except Exception as exc:  # a bug, a bad TLS set-up, AUTH refused...: these rows fail
                for row in conn.in_flight if conn is not None else [first]:
                    outcomes.append(Outcome(row, error=exc))
                if conn is not None:
                    conn.close()
                    conn = None
            finally:
                if conn is not None:
                    if conn.usable and not conn.in_flight:
                        self._idle.append(conn)
                    else:
                        conn.close()

    def _kept_connection(self) -> smtp.SmtpConnection[Leased] | None:
        while self._idle:
            conn = self._idle.pop()
            if conn.usable:
                return conn
            conn.close()  # the server closed it while idle (timeout, restart)
        return None

    async def _connect(self) -> smtp.SmtpConnection[Leased]:
        if self.smtp_url.secure and self._tls is None:
            self._tls = await asyncio.to_thread(ssl.create_default_context)
        return await self.smtp_url.connect(self.settings.smtp_timeout_s, self._tls)

    def _adopt_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # connections of another (finished) loop are unusable
            self._idle, self._loop = [], loop

    # ------------------------------------------------------------------ database (sender's own thread)
    async def _db_call(self, fn, *args):
        return await self._db.run(fn, *args)

    def _lease_batch(self, now: datetime, until: datetime, limit: int) -> list[Leased]:
        with self.engine.begin() as conn:
            return self._leased(repo.lease_due_batch(conn, now, until, limit))

    @staticmethod
    def _leased(rows) -> list[Leased]:
        return [Leased(r.id, r.kind, r.raw, r.envelope_from, r.to_email, r.message_id, r.correlation_id, r.attempts)
                for r in rows]

    def _release(self, ids: list[int]) -> None:
        with self.engine.begin() as conn:
            repo.release(conn, ids)

    def _next_due(self, now: datetime) -> datetime | None:
        with self.engine.begin() as conn:
            return repo.next_due_at(conn, now)

    def _record(self, outcomes: list[Outcome], lease_next: int = 0) -> Ahead | None:
        """Every outcome of the batch in one transaction: the sent rows and the untouched ones in
        one statement each, failures in one per kind (retried later, dead); logs of failures and
        metrics only after the commit. ``lease_next`` > 0: the same transaction leases the next
        batch, and when there is none, reads when the next retry is due."""
        now = self.clock()
        retry: list[dict] = []
        dead: list[dict] = []
        failed: list[tuple[Leased, int, Exception, bool]] = []
        for outcome in outcomes:
            if outcome.error is None or outcome.skipped:
                continue
            row, exc = outcome.row, outcome.error
            tries = row.attempts + 1
            failure = {"row_id": row.id, "tries": tries, "error": f"{type(exc).__name__}: {exc}"[:500]}
            if tries >= self.settings.max_send_attempts:
                dead.append(failure)
            else:
                delay = min(self.settings.send_retry_max_s, self.settings.send_retry_base_s * 2 ** (tries - 1))
                retry.append({**failure, "due": now + timedelta(seconds=delay)})
            failed.append((row, tries, exc, tries >= self.settings.max_send_attempts))
        ahead = None
        with self.engine.begin() as conn:  # Core only: an ORM session per pass cost more than its SQL
            sent = repo.mark_sent(conn, [o.row.id for o in outcomes if o.error is None and not o.skipped], now)
            repo.release(conn, [o.row.id for o in outcomes if o.skipped])
            repo.record_failures(conn, retry, dead)
            if lease_next:
                leased = self._leased(repo.lease_due_batch(
                    conn, now, now + timedelta(seconds=self.settings.send_lease_s), lease_next))
                ahead = Ahead(leased, time.monotonic(), None if leased else repo.next_due_at(conn, now), now)
        for kind, count in Counter(sent).items():
            metrics.EMAILS_SENT.labels(kind).inc(count)
        for row, tries, exc, is_dead in failed:
            if is_dead:
                metrics.EMAILS_FAILED.labels(row.kind).inc()
                log.error("email_dead", row_id=row.id, kind=row.kind, attempts=tries)
            else:
                log.warning("email_send_failed", row_id=row.id, kind=row.kind, attempts=tries,
                            error=type(exc).__name__)
        if failed:
            metrics.EMAIL_SEND_ERRORS.inc(len(failed))
        return ahead
