"""Background sender: delivers pending OutboundEmail rows through ``MLP_SMTP_URL``.

Each row is leased (compare-and-set), sent with aiosmtplib (a few quick tenacity retries for
transient errors), then marked ``sent`` in its own transaction. A failed attempt schedules the
next one with exponential backoff; after ``max_send_attempts`` the row is ``dead`` and counted.
A row is the unit of idempotency: a redelivered event or a restart never creates a second one.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
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

    def wake(self) -> None:
        self.wake_event.set()

    async def run(self) -> None:
        while True:
            try:
                sent = await self.send_due()
            except Exception as exc:  # database hiccup: try again at the next tick
                log.warning("sender_pass_failed", error=type(exc).__name__)
                sent = 0
            if sent == 0:
                self.wake_event.clear()
                try:
                    await asyncio.wait_for(self.wake_event.wait(), timeout=self.settings.send_poll_s)
                except TimeoutError:
                    pass

    async def send_due(self, limit: int = 50) -> int:
        """Send what is due now; returns the number of rows handled (sent, failed or dead)."""
        now = self.clock()
        ids = await asyncio.to_thread(self._due, now, limit)
        handled = 0
        for row_id in ids:
            if not await asyncio.to_thread(self._lease, row_id):
                continue
            await self._send_one(row_id)
            handled += 1
            if self.settings.send_pause_s:
                await asyncio.sleep(self.settings.send_pause_s)
        return handled

    def _due(self, now, limit):
        with unit_of_work(self.engine) as session:
            return repo.due_outbound_ids(session, now, limit)

    def _lease(self, row_id: int) -> bool:
        now = self.clock()
        with unit_of_work(self.engine) as session:
            return repo.lease_outbound(session, row_id, now, now + timedelta(seconds=self.settings.send_lease_s))

    async def _send_one(self, row_id: int) -> None:
        with unit_of_work(self.engine) as session:
            row = repo.outbound(session, row_id)
            if row is None or row.status != "pending":
                return
            raw, sender, recipient, kind = row.raw, row.envelope_from, row.to_email, row.kind
            correlation_id, message_id = row.correlation_id, row.message_id
        with correlation_scope(correlation_id):
            await self._deliver(row_id, raw, sender, recipient, kind, message_id)

    async def _deliver(self, row_id: int, raw: bytes, sender: str, recipient: str, kind: str, message_id: str) -> None:
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(max(1, self.settings.send_quick_retries)),
                wait=wait_exponential(multiplier=0.2, max=2), retry=retry_if_exception_type(TRANSIENT), reraise=True,
            ):
                with attempt:
                    await aiosmtplib.send(
                        raw, sender=sender, recipients=[recipient], hostname=self.host, port=self.port,
                        username=self.username, password=self.password, use_tls=self.use_tls,
                        start_tls=self.start_tls, timeout=self.settings.smtp_timeout_s,
                    )
        except Exception as exc:
            await asyncio.to_thread(self._record_failure, row_id, kind, exc)
            return
        await asyncio.to_thread(self._mark_sent, row_id, kind)
        log.info("email_sent", kind=kind, message_id=message_id)

    def _mark_sent(self, row_id: int, kind: str) -> None:
        with unit_of_work(self.engine) as session:
            row = repo.outbound(session, row_id)
            if row is None:
                return
            row.status, row.sent_at, row.lease_until = "sent", self.clock(), None
            row.attempts += 1
            session.add(row)
        metrics.EMAILS_SENT.labels(kind).inc()

    def _record_failure(self, row_id: int, kind: str, exc: Exception) -> None:
        metrics.EMAIL_SEND_ERRORS.inc()
        with unit_of_work(self.engine) as session:
            row = repo.outbound(session, row_id)
            if row is None:
                return
            row.attempts += 1
            row.last_error = f"{type(exc).__name__}: {exc}"[:500]
            row.lease_until = None
            if row.attempts >= self.settings.max_send_attempts:
                row.status = "dead"
                metrics.EMAILS_FAILED.labels(kind).inc()
                log.error("email_dead", row_id=row_id, kind=kind, attempts=row.attempts)
            else:
                delay = min(self.settings.send_retry_max_s, self.settings.send_retry_base_s * 2 ** (row.attempts - 1))
                row.next_attempt_at = self.clock() + timedelta(seconds=delay)
                log.warning("email_send_failed", row_id=row_id, kind=kind, attempts=row.attempts,
                            error=type(exc).__name__)
            session.add(row)
