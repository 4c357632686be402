"""Retention of the Redis streams: entries older than a few days go, once every group has them.

A stream entry is a copy of its event, personal data included (a request's contact and message,
an RBE's reply). ``MAXLEN`` on publication only caps a stream's size: at a few hundred requests a
day an entry would stay for years, erasure or not. Each service's housekeeping therefore trims
every stream of the backbone to ``MLP_STREAM_KEEP_DAYS`` (default 7) and the dead-letter streams
to ``MLP_DEADLETTER_KEEP_DAYS`` (default 30: an operator must have time to look at them).

An entry is trimmed only below every consumer group's last-delivered id and its oldest pending
entry: a group that lags (a service stopped for longer than the retention) or has not
acknowledged an entry loses nothing it has not handled. ``XTRIM MINID`` is exact, so the
retention is a bound, not an approximation.

Synchronous, on a client of its own, run on a worker thread: a cancelled asyncio Redis command
can swallow the cancellation, and a service whose housekeeping task ignores it never stops (seen
as a hung shutdown in the matcher's tests).
"""

from __future__ import annotations

import time

from redis import Redis
from redis.exceptions import ResponseError

from shared.contracts.events import Streams
from shared.platform.logging import get_logger
from shared.platform.metrics import STREAM_TRIMMED
from shared.platform.redis_conn import redis_client_sync

log = get_logger(__name__)

CONSUMER_GROUPS = ("intake", "matcher", "notifier", "catalog")
DAY_MS = 86_400_000


def _id(value) -> tuple[int, int]:
    text = value.decode() if isinstance(value, bytes) else str(value)
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def safe_trim_bound(redis: Redis, stream: str, horizon: tuple[int, int]) -> tuple[int, int] | None:
    """The lowest id to keep: ``horizon``, lowered to what any group has not read or acknowledged.
    None when the stream does not exist."""
    try:
        groups = redis.xinfo_groups(stream)
    except ResponseError:  # no such stream
        return None
    bound = horizon
    for group in groups:
        bound = min(bound, _id(group["last-delivered-id"]))
        if int(group.get("pending") or 0):
            summary = redis.xpending(stream, group["name"])
            if summary and summary.get("min"):
                bound = min(bound, _id(summary["min"]))
    return bound


def trim_streams(redis: Redis, *, keep_days: int, deadletter_keep_days: int,
                       now_ms: int | None = None) -> dict[str, int]:
    """One pass over the backbone's streams and dead-letter streams; returns entries trimmed per stream."""
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    plan = [(stream, keep_days) for stream in Streams.ALL]
    plan += [(Streams.dead_letter(group), deadletter_keep_days) for group in CONSUMER_GROUPS]
    trimmed: dict[str, int] = {}
    for stream, days in plan:
        bound = safe_trim_bound(redis, stream, (now_ms - days * DAY_MS, 0))
        if bound is None or bound <= (0, 0):
            continue
        count = int(redis.xtrim(stream, minid=f"{bound[0]}-{bound[1]}", approximate=False) or 0)
        if count:
            trimmed[stream] = count
            STREAM_TRIMMED.labels(stream).inc(count)
    if trimmed:
        log.info("streams_trimmed", **{name.replace(".", "_"): n for name, n in trimmed.items()})
    return trimmed


def trim_streams_at(redis_url: str, *, keep_days: int, deadletter_keep_days: int) -> dict[str, int]:
    """One pass with a client of its own (for ``asyncio.to_thread``)."""
    client = redis_client_sync(redis_url, connect_timeout_s=2, timeout_s=10)
    try:
        return trim_streams(client, keep_days=keep_days, deadletter_keep_days=deadletter_keep_days)
    finally:
        client.close()
