"""Purge of the event backbone's bookkeeping: published outbox rows and processed-event keys.

Both tables gain rows with every event (three outbox rows and four keys per company request) and
nothing else ever removes them: the database would grow without bound, and so would the scan an
erasure makes of the outbox (``delete_published_about``). Each service purges its own tables:

* a **published** outbox row after ``MLP_OUTBOX_KEEP_DAYS`` (default 7): it only serves an
  operator who republishes events after a Redis loss (docs/operations.md), and it holds a copy of
  the event, personal data included. Unpublished rows are never touched;
* a processed-event key after ``MLP_PROCESSED_KEEP_DAYS`` (default 30): a key only has to outlive
  any redelivery of its event (pending entries are claimed within seconds, dead letters replayed
  within days).

Deletes go by batches of ``BATCH`` rows, each in its own short transaction, so a first purge of a
large table never holds SQLite's write lock for long.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import Engine, bindparam, delete, select

from shared.platform.clock import utcnow
from shared.platform.db import table_of
from shared.platform.logging import get_logger
from shared.platform.metrics import HOUSEKEEPING_DELETED
from shared.platform.outbox import OutboxEvent, ProcessedEvent
from shared.platform.stream_retention import trim_streams_at

log = get_logger(__name__)

BATCH = 5_000
_OUTBOX = table_of(OutboxEvent)
_PROCESSED = table_of(ProcessedEvent)

_PURGE_OUTBOX = delete(_OUTBOX).where(_OUTBOX.c.id.in_(
    select(_OUTBOX.c.id).where(_OUTBOX.c.published_at.is_not(None), _OUTBOX.c.published_at < bindparam("before"))
    .limit(bindparam("limit")).scalar_subquery()))
_PURGE_PROCESSED = delete(_PROCESSED).where(_PROCESSED.c.id.in_(
    select(_PROCESSED.c.id).where(_PROCESSED.c.processed_at < bindparam("before"))
    .limit(bindparam("limit")).scalar_subquery()))


def _purge(engine: Engine, statement, before: datetime, batch: int) -> int:
    deleted = 0
    while True:
        with engine.begin() as conn:
            count = conn.execute(statement, {"before": before, "limit": batch}).rowcount or 0
        deleted += count
        if count < batch:
            return deleted


def purge_backbone(engine: Engine, service: str, *, outbox_keep_days: int, processed_keep_days: int,
                   now: datetime | None = None, batch: int = BATCH) -> dict[str, int]:
    """One purge of both tables; returns the rows deleted per table."""
    now = now or utcnow()
    deleted = {
        "outbox_event": _purge(engine, _PURGE_OUTBOX, now - timedelta(days=outbox_keep_days), batch),
        "processed_event": _purge(engine, _PURGE_PROCESSED, now - timedelta(days=processed_keep_days), batch),
    }
    for table, count in deleted.items():
        HOUSEKEEPING_DELETED.labels(service, table).inc(count)
    if any(deleted.values()):
        log.info("backbone_purged", **deleted)
    return deleted


async def housekeeping_loop(runtime) -> None:
    """Background task of every service: a purge at start, then every ``MLP_HOUSEKEEPING_INTERVAL_S``;
    the streams' retention trim with it (``shared.platform.stream_retention``: every service trims every
    stream, which is idempotent, so none depends on another being up)."""
    s = runtime.settings
    while True:
        try:
            await asyncio.to_thread(purge_backbone, runtime.engine, runtime.name,
                                    outbox_keep_days=s.outbox_keep_days, processed_keep_days=s.processed_keep_days)
        except Exception as exc:  # the database is down: try again at the next turn
            log.warning("backbone_purge_failed", error=type(exc).__name__)
        try:
            await asyncio.to_thread(trim_streams_at, s.redis_url, keep_days=s.stream_keep_days,
                                    deadletter_keep_days=s.deadletter_keep_days)
        except Exception as exc:  # Redis is down: the next turn trims
            log.warning("stream_trim_failed", error=type(exc).__name__)
        await asyncio.sleep(s.housekeeping_interval_s)
