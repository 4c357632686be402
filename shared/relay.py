"""Outbox relay: publishes committed outbox rows to their Redis stream, in order, then marks them.

A crash between publish and mark re-publishes the row on restart; consumers are idempotent
on ``event_id``, so that duplicate has no effect. While Redis is down the relay keeps retrying
with backoff (tenacity) and the rows simply wait.
"""

from __future__ import annotations

import asyncio
import json

from faststream.redis import RedisBroker
from sqlalchemy import Engine, event, text
from sqlmodel import Session, col, select
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from shared.logging import correlation_scope, get_logger
from shared.metrics import OUTBOX_PUBLISH_ERRORS, OUTBOX_PUBLISHED
from shared.outbox import OutboxEvent, utcnow

log = get_logger(__name__)


class OutboxRelay:
    def __init__(
        self,
        *,
        service: str,
        engine: Engine,
        broker: RedisBroker,
        maxlen: int,
        batch_size: int = 200,
        interval_s: float = 0.05,
    ) -> None:
        self.service = service
        self.engine = engine
        self.broker = broker
        self.maxlen = maxlen
        self.batch_size = batch_size
        self.interval_s = interval_s
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        """Called after a commit that wrote outbox rows, so they leave without waiting for the poll."""
        self._wake.set()

    def _claim_batch(self, session: Session) -> list[OutboxEvent]:
        """Open the transaction that owns this batch until it is marked published.

        Several relays (instances) may share one database: PostgreSQL hands each relay rows no other
        holds (``FOR UPDATE SKIP LOCKED``, locks kept until the mark commits); SQLite has no row
        locks, so the relay takes the database write lock first and the other relay waits, then
        sees the rows already published.
        """
        if self.engine.dialect.name == "sqlite":
            session.execute(text("UPDATE outbox_event SET attempts = attempts WHERE 0"))
        query = (
            select(OutboxEvent)
            .where(col(OutboxEvent.published_at).is_(None))
            .order_by(col(OutboxEvent.id))
            .limit(self.batch_size)
        )
        if self.engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return list(session.exec(query).all())

    @staticmethod
    def _mark_published(session: Session, rows: list[OutboxEvent]) -> None:
        now = utcnow()
        for row in rows:
            row.published_at = now
            session.add(row)
        session.commit()

    async def publish_pending(self) -> int:
        """Publish one batch; returns how many rows left. Raises if Redis is unreachable."""
        session = Session(self.engine, expire_on_commit=False)
        try:
            rows = await asyncio.to_thread(self._claim_batch, session)
            published: list[OutboxEvent] = []
            try:
                for row in rows:
                    with correlation_scope(row.correlation_id):
                        await self.broker.publish(
                            json.loads(row.payload),
                            stream=row.stream,
                            maxlen=self.maxlen,
                            correlation_id=row.correlation_id,
                        )
                    published.append(row)
                    OUTBOX_PUBLISHED.labels(self.service, row.stream).inc()
            finally:
                if published:
                    await asyncio.to_thread(self._mark_published, session, published)
            return len(published)
        finally:
            await asyncio.to_thread(session.close)

    def _listen_for_commits(self) -> None:
        """Wake on every commit of this service's database: an event written by a request or a
        stream handler leaves at once, and the poll interval is only a safety net."""
        loop = asyncio.get_running_loop()

        def on_commit(_conn) -> None:
            loop.call_soon_threadsafe(self._wake.set)

        if not event.contains(self.engine, "commit", on_commit):
            event.listen(self.engine, "commit", on_commit)
        self._on_commit = on_commit

    async def run(self) -> None:
        log.info("outbox_relay_started")
        self._listen_for_commits()
        try:
            await self._loop()
        finally:
            if event.contains(self.engine, "commit", self._on_commit):
                event.remove(self.engine, "commit", self._on_commit)

    async def _loop(self) -> None:
        while not self._stopping:
            # Cleared before reading, so a commit that lands while we publish wakes the next turn.
            self._wake.clear()
            async for attempt in AsyncRetrying(
                wait=wait_exponential(multiplier=0.2, max=5),
                retry=retry_if_exception_type(Exception),
                reraise=True,
            ):
                with attempt:
                    try:
                        sent = await self.publish_pending()
                    except Exception as exc:
                        OUTBOX_PUBLISH_ERRORS.labels(self.service).inc()
                        log.warning("outbox_publish_failed", error=type(exc).__name__)
                        raise
            if sent < self.batch_size:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.interval_s)
                except TimeoutError:
                    pass

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
