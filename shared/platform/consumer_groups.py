"""The consumer groups a service reads with, kept in existence.

:func:`shared.platform.consumer.subscribe_reliably` registers each (stream, group) pair here. Before the
broker starts, :func:`ensure_consumer_groups` creates the missing ones at the stream's first entry; while
it runs, :func:`watch_consumer_groups` recreates groups a Redis lost and restarts the subscribers that
stopped because of it.
"""

from __future__ import annotations

import asyncio

from faststream.redis import RedisBroker
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from shared.platform.logging import get_logger
from shared.platform.redis_conn import redis_client_sync

log = get_logger(__name__)

# (stream, group) pairs subscribed on each broker, so the groups can be created from the start
# of the stream before the broker starts (see ensure_consumer_groups).
_GROUPS_BY_BROKER: dict[int, set[tuple[str, str]]] = {}


def register_group(broker: RedisBroker, stream: str, group: str) -> None:
    _GROUPS_BY_BROKER.setdefault(id(broker), set()).add((stream, group))


GROUP_CHECK_INTERVAL_S = 2.0  # how often a running service checks that its groups still exist


async def ensure_consumer_groups(broker: RedisBroker, redis: Redis) -> list[tuple[str, str]]:
    """Create each subscribed group at "0" (the stream's first entry) if it does not exist;
    returns the (stream, group) pairs it had to create.

    faststream creates a missing group at "$", i.e. only for entries added after it starts: an
    event published before a service's very first start would never reach it. After a loss of
    Redis's data, "0" is also what lets a group read what the relays and ``monlyceepro replay``
    published before it came back.
    """
    created = []
    for stream, group in sorted(_GROUPS_BY_BROKER.get(id(broker), ())):
        try:
            await redis.xgroup_create(stream, group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        else:
            created.append((stream, group))
    return created


def _create_missing_groups(redis: SyncRedis, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    created = []
    for stream, group in pairs:
        try:
            redis.xgroup_create(stream, group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        else:
            created.append((stream, group))
    return created


async def restore_consumers(broker: RedisBroker, redis: SyncRedis) -> tuple[list[tuple[str, str]], int]:
    """Recover from a Redis that lost its data (FLUSHALL, failover to a replica without it) while
    the service runs: recreate the missing groups at "0", then restart the subscribers that
    stopped. faststream stops a subscriber for good when XREADGROUP answers NOGROUP ("restart the
    application"); without this the service would stay up, ready, and read nothing.

    The group check runs on a worker thread with a synchronous client: a cancelled asyncio Redis
    command can swallow the cancellation, and a task that ignores it hangs the service's
    shutdown (see shared.platform.stream_retention). Returns the groups created and the number of
    subscribers restarted."""
    pairs = sorted(_GROUPS_BY_BROKER.get(id(broker), ()))
    created = await asyncio.to_thread(_create_missing_groups, redis, pairs)
    restarted = 0
    for subscriber in list(getattr(broker, "subscribers", ())):
        if getattr(subscriber, "running", True):
            continue
        await subscriber.start()  # the group exists again: faststream's own XGROUP CREATE is a no-op
        restarted += 1
    if created or restarted:
        log.warning("consumer_groups_restored", groups=[f"{s}:{g}" for s, g in created], subscribers=restarted)
    return created, restarted


async def watch_consumer_groups(broker: RedisBroker, redis_url: str, interval_s: float = GROUP_CHECK_INTERVAL_S) -> None:
    """Background task of a started broker: :func:`restore_consumers` every ``interval_s`` (one
    XGROUP CREATE per subscribed group, answered BUSYGROUP while all is well)."""
    client = redis_client_sync(redis_url, connect_timeout_s=2, timeout_s=5)  # rediss, ACL users alike
    try:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await restore_consumers(broker, client)
            except Exception as exc:  # Redis down: the next turn tries again
                log.info("consumer_group_check_failed", error=type(exc).__name__)
    finally:
        client.close()
