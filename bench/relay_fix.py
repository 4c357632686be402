"""Experiment, not production code: serve a service with the outbox-relay fix proposed in
docs/benchmarks.md applied by monkeypatching ``shared.relay.OutboxRelay``, to measure it
before the owner changes ``shared/relay.py``.

    python -m bench.relay_fix serve <service> --port P     (same arguments as ``monlyceepro serve``)

The bottleneck it removes: on SQLite, ``OutboxRelay._claim_batch`` takes the database write lock
(dummy UPDATE) in a worker thread, then the relay awaits the Redis publishes, then marks the rows
in ``asyncio.to_thread`` — the *shared* default executor (6 threads on 2 cores). Under load those
6 threads are all HTTP requests / stream handlers waiting for that same write lock (busy_timeout
30 s), so the relay cannot get a thread to commit and release it: every writer stalls until
busy_timeout expires ("database is locked" → HTTP 500), then the convoy starts again.

The fix applied here: (1) on SQLite, no write lock while publishing (one SQLite file = one
instance; a row re-published after a crash is already handled by the consumers' idempotency);
(2) the relay's database calls run on its own single-thread executor, never behind the
request threads.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys

from sqlmodel import Session

from shared import relay as relay_module

_original_claim = relay_module.OutboxRelay._claim_batch
_executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-relay")


def _claim_batch(self, session: Session):
    if self.engine.dialect.name != "sqlite":
        return _original_claim(self, session)
    from sqlmodel import col, select

    from shared.outbox import OutboxEvent

    query = (select(OutboxEvent).where(col(OutboxEvent.published_at).is_(None))
             .order_by(col(OutboxEvent.id)).limit(self.batch_size))
    rows = list(session.exec(query).all())
    session.commit()  # end the read transaction: nothing is held while publishing
    return rows


async def _publish_pending(self) -> int:
    loop = asyncio.get_running_loop()
    import json

    from shared.logging import correlation_scope
    from shared.metrics import OUTBOX_PUBLISHED

    session = Session(self.engine, expire_on_commit=False)
    try:
        rows = await loop.run_in_executor(_executor, self._claim_batch, session)
        published = []
        try:
            for row in rows:
                with correlation_scope(row.correlation_id):
                    await self.broker.publish(json.loads(row.payload), stream=row.stream, maxlen=self.maxlen,
                                              correlation_id=row.correlation_id)
                published.append(row)
                OUTBOX_PUBLISHED.labels(self.service, row.stream).inc()
        finally:
            if published:
                await loop.run_in_executor(_executor, self._mark_published, session, published)
        return len(published)
    finally:
        await loop.run_in_executor(_executor, session.close)


def main() -> int:
    relay_module.OutboxRelay._claim_batch = _claim_batch
    relay_module.OutboxRelay.publish_pending = _publish_pending
    from shared.cli import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
