"""Dead letters: the last error of each failing entry, and the entries a consumer group gives up on.

The last error is kept in the hash ``mlp:lasterror:<group>`` (entry id -> error) so that, when
the entry is finally dead-lettered, ``mlp.deadletter.<group>`` says why.
"""

from __future__ import annotations

import time

from redis.asyncio import Redis

from shared.contracts.events import Streams
from shared.platform.logging import get_logger
from shared.platform.metrics import DEAD_LETTERS, EVENTS_CONSUMED

log = get_logger(__name__)

LAST_ERROR_KEY = "mlp:lasterror:{group}"


async def record_error(redis: Redis, group: str, entry_id: str, exc: BaseException) -> None:
    try:
        await redis.hset(LAST_ERROR_KEY.format(group=group), entry_id, f"{type(exc).__name__}: {exc}"[:500])
    except Exception:  # Redis down: the error is in the logs anyway
        pass


async def forget_error(redis: Redis, group: str, entry_id: str) -> None:
    await redis.hdel(LAST_ERROR_KEY.format(group=group), entry_id)


async def dead_letter(redis: Redis, stream: str, group: str, entry_id: str, payload: bytes, deliveries: int,
                      reason: str) -> None:
    """Copy the entry, with its last error, to ``mlp.deadletter.<group>``, then acknowledge it."""
    key = LAST_ERROR_KEY.format(group=group)
    last_error = await redis.hget(key, entry_id)
    await redis.xadd(
        Streams.dead_letter(group),
        {
            "stream": stream,
            "group": group,
            "entry_id": entry_id,
            "deliveries": str(deliveries),
            "reason": reason,
            "error": (last_error or b"").decode() if isinstance(last_error, bytes) else str(last_error or ""),
            "payload": payload,
            "dead_lettered_at": str(time.time()),
        },
        maxlen=100_000,
        approximate=True,
    )
    await redis.xack(stream, group, entry_id)
    await redis.hdel(key, entry_id)
    DEAD_LETTERS.labels(group, stream, reason).inc()
    EVENTS_CONSUMED.labels(group, stream, "dead_lettered").inc()
    log.error("event_dead_lettered", stream=stream, group=group, entry_id=entry_id, deliveries=deliveries,
              reason=reason)
