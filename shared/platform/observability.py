"""Pipeline gauges read at scrape time: stream lengths, group lag/pending, outbox backlog."""

from __future__ import annotations

import asyncio
import time

from redis.asyncio import Redis
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from shared.contracts.events import Streams
from shared.platform.clock import utcnow
from shared.platform.metrics import (
    DEAD_LETTER_LENGTH,
    GROUP_LAG,
    GROUP_OLDEST_PENDING_AGE,
    GROUP_PENDING,
    OUTBOX_BACKLOG,
    OUTBOX_NOT_IN_STREAM,
    OUTBOX_OLDEST_AGE,
    STREAM_LENGTH,
)
from shared.platform.outbox import OutboxEvent
from shared.platform.replay import REPLAYED_SINCE_KEY, count_published_not_in_stream, coverage_ms
from shared.platform.stream_retention import CONSUMER_GROUPS


def _decode(value):
    return value.decode() if isinstance(value, bytes) else value


async def refresh_stream_gauges(redis: Redis) -> None:
    now_ms = time.time() * 1000
    for stream in Streams.ALL:
        try:
            STREAM_LENGTH.labels(stream).set(await redis.xlen(stream))
            groups = await redis.xinfo_groups(stream)
        except Exception:
            continue  # stream not created yet
        for info in groups:
            group = _decode(info.get("name"))
            lag = info.get("lag")
            GROUP_LAG.labels(stream, group).set(float(lag) if lag is not None else 0.0)
            pending = int(info.get("pending") or 0)
            GROUP_PENDING.labels(stream, group).set(pending)
            age = 0.0
            if pending:
                summary = await redis.xpending(stream, group)
                oldest = _decode(summary.get("min")) if summary else None
                if oldest:
                    age = max(0.0, (now_ms - int(str(oldest).split("-")[0])) / 1000)
            GROUP_OLDEST_PENDING_AGE.labels(stream, group).set(age)
    for group in CONSUMER_GROUPS:
        try:
            DEAD_LETTER_LENGTH.labels(group).set(await redis.xlen(Streams.dead_letter(group)))
        except Exception:
            continue


def _outbox_state(engine: Engine) -> tuple[int, float]:
    with Session(engine) as session:
        backlog = session.exec(
            select(func.count()).select_from(OutboxEvent).where(col(OutboxEvent.published_at).is_(None))
        ).one()
        oldest = session.exec(
            select(func.min(OutboxEvent.created_at)).where(col(OutboxEvent.published_at).is_(None))
        ).one()
    age = (utcnow() - oldest).total_seconds() if oldest else 0.0
    return int(backlog), max(0.0, age)


async def refresh_outbox_gauges(service: str, engine: Engine) -> None:
    backlog, age = await asyncio.to_thread(_outbox_state, engine)
    OUTBOX_BACKLOG.labels(service).set(backlog)
    OUTBOX_OLDEST_AGE.labels(service).set(age)


async def refresh_outbox_stream_gauge(service: str, engine: Engine, redis: Redis, *, keep_days: int) -> None:
    """``mlp_outbox_published_not_in_stream``: does each stream still hold what this service's
    outbox says it published (``shared.platform.replay``)? Left as it was when Redis is down."""
    now_ms = int(time.time() * 1000)
    replayed = await redis.hgetall(REPLAYED_SINCE_KEY)
    coverages = {}
    for stream in Streams.ALL:
        try:
            first = await redis.xrange(stream, min="-", max="+", count=1)
        except Exception:
            first = []
        coverages[stream] = coverage_ms(first[0][0] if first else None, replayed.get(stream.encode()), now_ms)
    missing = await asyncio.to_thread(count_published_not_in_stream, engine, coverages, keep_days=keep_days)
    OUTBOX_NOT_IN_STREAM.labels(service).set(sum(missing.values()))
