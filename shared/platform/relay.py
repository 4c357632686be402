"""Outbox relay: publishes committed outbox rows to their Redis stream, in order, then marks them.

The mark of a published batch rides on the next turn's lease transaction when that turn comes
within ``MARK_LINGER_S`` (under load: one transaction per wake-up instead of two); otherwise, or
at stop, the mark is written alone. A crash between publish and mark re-publishes the row once
its lease expires; consumers are idempotent on ``event_id``, so that duplicate has no effect. While Redis is down
the relay keeps retrying with backoff and the rows simply wait.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

from faststream.redis import RedisBroker
from sqlalchemy import Engine, Row, bindparam, event, or_, select, update
from sqlalchemy.orm import Session as OrmSession

from shared.platform.clock import utcnow
from shared.platform.db import table_of
from shared.platform.db_threads import DbThreads
from shared.platform.faststream_wire import DATA_KEY, stream_message
from shared.platform.logging import get_logger
from shared.platform.metrics import OUTBOX_PUBLISH_ERRORS, OUTBOX_PUBLISHED
from shared.platform.outbox import OUTBOX_WRITTEN, OutboxEvent

log = get_logger(__name__)

LEASE_SECONDS = 30
MARK_LINGER_S = 0.02  # how long a published batch waits for the next turn to carry its mark
PUBLISH_RETRY_FIRST_S, PUBLISH_RETRY_MAX_S = 0.2, 5.0  # wait before the 2nd attempt of a failed turn, its cap
_OUTBOX = table_of(OutboxEvent)


# Built once with bind parameters: building a statement and its cache key on every turn cost
# more than running it (SQLAlchemy memoizes the cache key of a statement object it sees again).
def _claim_statement(postgresql: bool):
    t = _OUTBOX
    candidates = (
        select(t.c.id)
        .where(
            t.c.published_at.is_(None),
            or_(
                t.c.claimed_until.is_(None),
                t.c.claimed_until < bindparam("now"),  # its relay died: take the row over
                t.c.claimed_by == bindparam("relay_id"),  # ours, left by a failed publish: retry
            ),
        )
        .order_by(t.c.id)
        .limit(bindparam("limit"))
    )
    if postgresql:
        candidates = candidates.with_for_update(skip_locked=True)
    return (
        update(t)
        .where(t.c.id.in_(candidates.scalar_subquery()))
        .values(claimed_by=bindparam("relay_id"), claimed_until=bindparam("lease_until"), attempts=t.c.attempts + 1)
        .returning(t.c.id, t.c.event_id, t.c.stream, t.c.event_type, t.c.correlation_id, t.c.payload)
    )


_MARK_PUBLISHED = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True)), _OUTBOX.c.claimed_by == bindparam("relay_id"))
    .values(published_at=bindparam("now"), claimed_until=None)
)


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
        inline_writes: bool = False,
    ) -> None:
        self.service = service
        self.engine = engine
        self.broker = broker
        self.maxlen = maxlen
        self.batch_size = batch_size
        self.interval_s = interval_s
        self._wake = asyncio.Event()
        self._stopping = False
        self.relay_id = uuid.uuid4().hex
        # Its own thread: request handlers filling the runtime's pool never delay the mark.
        # Its lease and mark run on the event loop when SQLite's lock is free (DbThreads.run_write).
        self._db_threads = DbThreads(f"{service}-relay", workers=1,
                                     inline_writes=inline_writes and engine.dialect.name == "sqlite")
        self._claim_statement = _claim_statement(engine.dialect.name == "postgresql")
        self._unmarked: list[int] = []  # published, marked by the next lease transaction

    def wake(self) -> None:
        """Called after a commit that wrote outbox rows, so they leave without waiting for the poll."""
        self._wake.set()

    def _mark_and_claim(self, published: list[int]) -> list[Row]:
        """Mark the previous batch published and lease the next one, in one short transaction.

        Several relays (instances) may share one database. The lease is one UPDATE … RETURNING:
        SQLite runs one writer at a time and PostgreSQL skips rows another relay is leasing
        (``SKIP LOCKED``), so each row is leased to one relay; no lock is held while publishing
        to Redis. The mark comes first: the lease retakes this relay's own unmarked rows (a
        failed publish), which must not include the ones already published.
        """
        now = utcnow()
        with self.engine.begin() as conn:
            if published:
                conn.execute(_MARK_PUBLISHED, {"ids": published, "relay_id": self.relay_id, "now": now})
            rows = conn.execute(self._claim_statement, {
                "now": now, "relay_id": self.relay_id, "limit": self.batch_size,
                "lease_until": now + timedelta(seconds=LEASE_SECONDS),
            }).all()
        return sorted(rows, key=lambda row: row.id)  # RETURNING has no guaranteed order

    def _mark_published(self, ids: list[int]) -> None:
        with self.engine.begin() as conn:
            conn.execute(_MARK_PUBLISHED, {"ids": ids, "relay_id": self.relay_id, "now": utcnow()})

    async def flush_marks(self) -> None:
        """Write the mark of the last published batch now (at stop; tests)."""
        published, self._unmarked = self._unmarked, []
        if published:
            try:
                await self._db(self._mark_published, published)
            except BaseException:
                self._unmarked = published + self._unmarked  # marked by the next turn that works
                raise

    async def _db(self, fn, *args):
        return await self._db_threads.run_write(fn, *args)

    async def publish_pending(self) -> int:
        """Publish one batch; returns how many rows left. Raises if Redis is unreachable.

        The batch is marked published by the next call (or ``flush_marks``)."""
        published, self._unmarked = self._unmarked, []
        try:
            rows = await self._db(self._mark_and_claim, published)
        except BaseException:
            self._unmarked = published  # still published: marked by the next turn that works
            raise
        if not rows:
            return 0
        redis = self.broker._connection  # the broker's client
        if redis is None:  # not connected yet: a failed turn, retried like an unreachable Redis
            raise ConnectionError("the broker is not connected")
        # The stored payload is already the message's JSON: framed as faststream frames it (what every
        # consumer parses), without decoding it and handing it to broker.publish, whose per-message
        # machinery (command, middlewares, codec, JSON again) cost more than the rest of the turn.
        async with redis.pipeline(transaction=False) as pipe:
            for row in rows:
                pipe.xadd(row.stream, {DATA_KEY: stream_message(row.payload, row.correlation_id)}, maxlen=self.maxlen)
            await pipe.execute()  # one round trip per batch
        self._unmarked = [row.id for row in rows]
        per_stream = Counter(row.stream for row in rows)
        for stream, count in per_stream.items():
            OUTBOX_PUBLISHED.labels(self.service, stream).inc(count)
        # One bound logger per batch: the module's lazy proxy builds one on every call. Each line
        # carries its row's correlation id, as the request that wrote the row did.
        logger = log.bind()
        for row in rows:
            logger.info("event_published", correlation_id=row.correlation_id, stream=row.stream,
                        event_type=row.event_type, event_id=row.event_id)
        return len(rows)

    def _listen_for_commits(self) -> None:
        """Wake when a transaction of this service's database commits new outbox rows: an event
        written by a request or a stream handler leaves at once, other commits cost nothing, and
        the poll interval is only a safety net."""
        loop = asyncio.get_running_loop()

        def after_commit(session) -> None:
            # add_to_outbox flags the session; rows added as ORM objects (tests) are seen here too.
            written = session.info.pop(OUTBOX_WRITTEN, False)
            if written and session.bind is self.engine:
                loop.call_soon_threadsafe(self._wake.set)

        def after_flush(session, _context) -> None:
            if any(isinstance(obj, OutboxEvent) for obj in session.new):
                session.info[OUTBOX_WRITTEN] = True

        def after_rollback(session) -> None:
            session.info.pop(OUTBOX_WRITTEN, None)

        self._listeners: list[tuple[str, Callable[..., None]]] = [("after_flush", after_flush), ("after_commit", after_commit),
                           ("after_rollback", after_rollback)]
        for name, fn in self._listeners:
            event.listen(OrmSession, name, fn)

    async def run(self) -> None:
        log.info("outbox_relay_started")
        self._listen_for_commits()
        try:
            await self._loop()
        finally:
            try:
                await self.flush_marks()
            except Exception as exc:  # the rows are published: at worst they leave once more
                log.warning("outbox_mark_failed", error=type(exc).__name__)
            for name, fn in self._listeners:
                if event.contains(OrmSession, name, fn):
                    event.remove(OrmSession, name, fn)

    async def _loop(self) -> None:
        while not self._stopping:
            # Cleared before reading, so a commit that lands while we publish wakes the next turn.
            self._wake.clear()
            failures = 0
            while True:
                # Retried until it works, waiting 0.2 s, 0.4 s… up to 5 s between attempts (what
                # tenacity's wait_exponential(0.2, max=5) did; building its retrying object on
                # every turn cost more than a turn's own Python work at a few events a turn).
                try:
                    sent = await self.publish_pending()
                    break
                except Exception as exc:
                    OUTBOX_PUBLISH_ERRORS.labels(self.service).inc()
                    log.warning("outbox_publish_failed", error=type(exc).__name__)
                    failures += 1
                    await asyncio.sleep(min(PUBLISH_RETRY_FIRST_S * 2 ** (failures - 1), PUBLISH_RETRY_MAX_S))
            if sent < self.batch_size:
                await self._idle()

    async def _idle(self) -> None:
        """Wait for the next commit or poll. A batch just published is marked by the next turn if
        one comes within ``MARK_LINGER_S`` (under load one does: one transaction per turn), else
        alone: the database must not show published rows as waiting (the backlog gauge), nor keep
        them out of an erasure's reach (``delete_published_about`` only sees marked rows)."""
        wait = self.interval_s
        if self._unmarked:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=min(MARK_LINGER_S, wait))
                return
            except TimeoutError:
                wait -= MARK_LINGER_S
            try:
                await self.flush_marks()
            except Exception as exc:  # the next turn retries the mark with its lease
                log.warning("outbox_mark_failed", error=type(exc).__name__)
        if wait > 0:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            except TimeoutError:
                pass

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
