"""Background sender: delivers pending OutboundEmail rows through ``MLP_SMTP_URL``.

One pass leases a batch of due rows in ONE transaction (compare-and-set on ``lease_until``, lead
copies first) and reads them in the same call, sends them with bounded concurrency
(``MLP_SEND_CONCURRENCY``) over SMTP connections kept open between passes (a broken one is
replaced), then records every outcome of the batch in one transaction. Each send has a few quick
tenacity retries for transient errors; a failed attempt schedules the next one with exponential
backoff; after ``max_send_attempts`` the row is ``dead`` and counted. A row is the unit of
idempotency: a redelivered event or a restart never creates a second one. All database work runs
on the sender's own single database thread, never on the event loop nor the shared default pool.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import unquote, urlparse

import aiosmtplib
from sqlalchemy import Engine
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from services.notifier import metrics
from services.notifier import repository as repo
from services.notifier.config import NotifierSettings
from services.notifier.service.calendar import Clock, system_clock
from shared.db import unit_of_work
from shared.logging import correlation_scope, get_logger

log = get_logger(__name__)

TRANSIENT = (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPConnectError, aiosmtplib.SMTPTimeoutError,
             ConnectionError, OSError, asyncio.TimeoutError)


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
        url = urlparse(settings.smtp_url)
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or (465 if url.scheme == "smtps" else 25)
        self.username = unquote(url.username) if url.username else None
        self.password = unquote(url.password) if url.password else None
        self.use_tls = url.scheme == "smtps"
        self.start_tls = True if url.scheme == "smtp+starttls" else False
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notifier-sender-db")
        self._idle: list[aiosmtplib.SMTP] = []  # open connections between sends
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop the connections belong to

    def wake(self) -> None:
        self.wake_event.set()

    # ------------------------------------------------------------------ loop
    async def run(self) -> None:
        try:
            while True:
                self.wake_event.clear()  # before the pass: a wake during the pass triggers another one
                try:
                    sent = await self.send_due()
                    wait = 0.0 if sent else await self._idle_wait()
                except Exception as exc:  # database hiccup: try again at the next tick
                    log.warning("sender_pass_failed", error=type(exc).__name__)
                    wait = self.settings.send_poll_s
                if wait > 0:
                    try:
                        await asyncio.wait_for(self.wake_event.wait(), timeout=wait)
                    except TimeoutError:
                        pass
        finally:
            await self.close()

    async def _idle_wait(self) -> float:
        """Sleep until woken, or until the next retry is due; the poll interval is only a safety net."""
        now = self.clock()
        next_due = await self._db_call(self._next_due, now)
        if next_due is None:
            return self.settings.send_poll_s
        return min(self.settings.send_poll_s, max(0.01, (next_due - now).total_seconds()))

    async def close(self) -> None:
        conns, self._idle = self._idle, []
        if self._loop is asyncio.get_running_loop():
            for smtp in conns:
                smtp.close()

    # ------------------------------------------------------------------ one pass
    async def send_due(self, limit: int | None = None) -> int:
        """Send one batch of what is due now; returns the number of rows handled (sent, failed or dead)."""
        throttled = self.settings.send_pause_s > 0  # one row at a time, with a pause (tests kill between sends)
        size = 1 if throttled else (limit or self.settings.send_batch_size)
        now = self.clock()
        until = now + timedelta(seconds=self.settings.send_lease_s)
        leased_at = time.monotonic()
        rows = await self._db_call(self._lease_batch, now, until, size)
        if not rows:
            return 0
        self._adopt_loop()
        # Stop starting sends well before the lease ends: after that another instance may take the row.
        deadline = leased_at + max(1.0, self.settings.send_lease_s - self.settings.smtp_timeout_s * 2)
        queue: asyncio.Queue[Leased] = asyncio.Queue()
        for row in rows:
            queue.put_nowait(row)
        outcomes: list[Outcome] = []
        workers = min(len(rows), max(1, self.settings.send_concurrency))
        await asyncio.gather(*(self._worker(queue, outcomes, deadline) for _ in range(workers)))
        await self._db_call(self._record, outcomes)
        for outcome in outcomes:
            if outcome.error is None and not outcome.skipped:
                with correlation_scope(outcome.row.correlation_id):
                    log.info("email_sent", kind=outcome.row.kind, message_id=outcome.row.message_id)
        if throttled:
            await asyncio.sleep(self.settings.send_pause_s)
        return sum(1 for o in outcomes if not o.skipped)

    async def _worker(self, queue: asyncio.Queue[Leased], outcomes: list[Outcome], deadline: float) -> None:
        while not queue.empty():
            row = queue.get_nowait()
            if time.monotonic() > deadline:
                outcomes.append(Outcome(row, skipped=True))
                continue
            try:
                await self._deliver(row)
            except Exception as exc:
                outcomes.append(Outcome(row, error=exc))
            else:
                outcomes.append(Outcome(row))

    async def _deliver(self, row: Leased) -> None:
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(max(1, self.settings.send_quick_retries)),
            wait=wait_exponential(multiplier=0.2, max=2), retry=retry_if_exception_type(TRANSIENT), reraise=True,
        ):
            with attempt:
                await self._send_on_connection(row)

    async def _send_on_connection(self, row: Leased) -> None:
        """Send over an open connection; a kept one the server closed meanwhile is replaced once."""
        reused = bool(self._idle)
        smtp = self._idle.pop() if reused else await self._connect()
        try:
            await smtp.sendmail(row.sender, [row.recipient], row.raw, timeout=self.settings.smtp_timeout_s)
        except TRANSIENT:
            smtp.close()
            if not reused:
                raise
            smtp = await self._connect()  # stale kept connection: one fresh try, not a counted retry
            try:
                await smtp.sendmail(row.sender, [row.recipient], row.raw, timeout=self.settings.smtp_timeout_s)
            except BaseException:
                smtp.close()
                raise
        except BaseException:
            smtp.close()  # refused recipient, bad reply...: never reuse a connection in an unknown state
            raise
        self._idle.append(smtp)

    async def _connect(self) -> aiosmtplib.SMTP:
        smtp = aiosmtplib.SMTP(hostname=self.host, port=self.port, username=self.username, password=self.password,
                               use_tls=self.use_tls, start_tls=self.start_tls, timeout=self.settings.smtp_timeout_s)
        await smtp.connect()
        return smtp

    def _adopt_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # connections of another (finished) loop are unusable
            self._idle, self._loop = [], loop

    # ------------------------------------------------------------------ database (sender's own thread)
    async def _db_call(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._db, fn, *args)

    def _lease_batch(self, now: datetime, until: datetime, limit: int) -> list[Leased]:
        with unit_of_work(self.engine) as session:
            rows = repo.lease_due_batch(session, now, until, limit)
            return [Leased(r.id, r.kind, r.raw, r.envelope_from, r.to_email, r.message_id, r.correlation_id)
                    for r in rows]

    def _next_due(self, now: datetime) -> datetime | None:
        with unit_of_work(self.engine) as session:
            return repo.next_due_at(session, now)

    def _record(self, outcomes: list[Outcome]) -> None:
        """Every outcome of the batch in one transaction: the sent rows and the untouched ones in
        one statement each, failures row by row (their backoff depends on their attempts);
        metrics only after the commit."""
        now = self.clock()
        dead: list[str] = []
        failed = 0
        failures = [o for o in outcomes if o.error is not None and not o.skipped]
        with unit_of_work(self.engine) as session:
            sent = repo.mark_sent(session, [o.row.id for o in outcomes if o.error is None and not o.skipped], now)
            repo.release(session, [o.row.id for o in outcomes if o.skipped])
            rows = repo.outbound_by_ids(session, [o.row.id for o in failures]) if failures else {}
            for outcome in failures:
                row = rows.get(outcome.row.id)
                if row is None:
                    continue
                failed += 1
                exc = outcome.error
                row.lease_until = None
                row.attempts += 1
                row.last_error = f"{type(exc).__name__}: {exc}"[:500]
                if row.attempts >= self.settings.max_send_attempts:
                    row.status = "dead"
                    dead.append(row.kind)
                    log.error("email_dead", row_id=row.id, kind=row.kind, attempts=row.attempts)
                else:
                    delay = min(self.settings.send_retry_max_s,
                                self.settings.send_retry_base_s * 2 ** (row.attempts - 1))
                    row.next_attempt_at = now + timedelta(seconds=delay)
                    log.warning("email_send_failed", row_id=row.id, kind=row.kind, attempts=row.attempts,
                                error=type(exc).__name__)
                session.add(row)
        for kind in sent:
            metrics.EMAILS_SENT.labels(kind).inc()
        for kind in dead:
            metrics.EMAILS_FAILED.labels(kind).inc()
        if failed:
            metrics.EMAIL_SEND_ERRORS.inc(failed)
