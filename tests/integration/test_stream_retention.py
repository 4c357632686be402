"""The streams' retention trim on a real redis-server: old entries go once every consumer group has
read and acknowledged them; what a group has not handled stays, whatever its age."""

from __future__ import annotations

import time

from prometheus_client import REGISTRY
from redis import Redis

from shared.contracts.events import Streams
from shared.platform.stream_retention import DAY_MS, trim_streams

NOW_MS = int(time.time() * 1000)


def _trimmed(stream: str) -> float:
    return REGISTRY.get_sample_value("mlp_stream_entries_trimmed_total", {"stream": stream}) or 0.0


def _entries(redis: Redis, stream: str, days_ago: list[float]) -> list[str]:
    ids = []
    for i, days in enumerate(days_ago):
        ids.append(redis.xadd(stream, {"n": str(i)}, id=f"{NOW_MS - int(days * DAY_MS)}-{i}"))
    return [i.decode() for i in ids]


def _read(redis: Redis, stream: str, group: str, count: int, ack: list[str] | None = None) -> list[str]:
    """``group`` reads ``count`` new entries and acknowledges ``ack`` (all it read when None)."""
    got = redis.xreadgroup(group, f"{group}-1", {stream: ">"}, count=count)
    read = [entry_id.decode() for entry_id, _ in got[0][1]] if got else []
    to_ack = read if ack is None else ack
    if to_ack:
        redis.xack(stream, group, *to_ack)
    return read


def _ids(redis: Redis, stream: str) -> list[str]:
    return [entry_id.decode() for entry_id, _ in redis.xrange(stream)]


def test_old_entries_go_once_every_group_has_handled_them(redis_url):
    redis = Redis.from_url(redis_url)
    try:
        # Every group has read and acknowledged everything: the 10-day-old entries go, yesterday's stay.
        done = _entries(redis, Streams.THREAD_MESSAGE, [10, 10, 9, 1])
        redis.xgroup_create(Streams.THREAD_MESSAGE, "intake", id="0")
        _read(redis, Streams.THREAD_MESSAGE, "intake", 10)

        # One entry is still pending (its handler failed; the claimer retries it): it and what
        # follows stay, even if old.
        pending = _entries(redis, Streams.REQUEST_SUBMITTED, [10, 10, 10, 10, 1])
        redis.xgroup_create(Streams.REQUEST_SUBMITTED, "matcher", id="0")
        read = _read(redis, Streams.REQUEST_SUBMITTED, "matcher", 10, ack=[])
        redis.xack(Streams.REQUEST_SUBMITTED, "matcher", *[i for i in read if i != pending[2]])

        # A group that lags (its service was stopped) keeps what it has not read; the other group
        # has read everything.
        lagging = _entries(redis, Streams.REQUEST_ROUTED, [10, 10, 10, 1])
        for group in ("intake", "notifier"):
            redis.xgroup_create(Streams.REQUEST_ROUTED, group, id="0")
        _read(redis, Streams.REQUEST_ROUTED, "intake", 10)
        _read(redis, Streams.REQUEST_ROUTED, "notifier", 2)

        # Dead letters have no group and a longer retention.
        dead = _entries(redis, Streams.dead_letter("notifier"), [40, 20])

        before = {s: _trimmed(s) for s in (Streams.THREAD_MESSAGE, Streams.REQUEST_SUBMITTED,
                                           Streams.REQUEST_ROUTED, Streams.dead_letter("notifier"))}
        trimmed = trim_streams(redis, keep_days=7, deadletter_keep_days=30, now_ms=NOW_MS)

        assert _ids(redis, Streams.THREAD_MESSAGE) == done[3:]
        assert _ids(redis, Streams.REQUEST_SUBMITTED) == pending[2:]
        assert _ids(redis, Streams.REQUEST_ROUTED) == lagging[1:]  # below the last one delivered
        assert _ids(redis, Streams.dead_letter("notifier")) == dead[1:]
        assert trimmed == {Streams.THREAD_MESSAGE: 3, Streams.REQUEST_SUBMITTED: 2, Streams.REQUEST_ROUTED: 1,
                           Streams.dead_letter("notifier"): 1}
        for stream, count in trimmed.items():
            assert _trimmed(stream) - before[stream] == count
        # Idempotent, and streams that do not exist are no error.
        assert trim_streams(redis, keep_days=7, deadletter_keep_days=30, now_ms=NOW_MS) == {}
    finally:
        redis.close()
