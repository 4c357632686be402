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
    OUTBOX_OLDEST_AGE,
    STREAM_LENGTH,
)
from shared.platform.outbox import OutboxEvent
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
