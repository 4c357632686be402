"""Two instances of a service = two outbox relays on one database. Each committed outbox row must
reach its stream once. Found by the scale-out run (both relays read the same unpublished rows and published them
both); fixed in shared/platform/relay.py by keeping the batch's transaction (row locks on PostgreSQL,
the write lock on SQLite) until the rows are marked published."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
import redis as redis_sync
from faststream.redis import RedisBroker
from sqlmodel import Session

from shared.contracts.events import CatalogChanged, Streams
from shared.platform.db import create_tables, make_engine
from shared.platform.outbox import BACKBONE_TABLES, add_to_outbox
from shared.platform.relay import OutboxRelay
from tests.support.audit import stream_bodies

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(60)]

N_EVENTS = 50


async def _run_two_relays(database_url: str, redis_url: str) -> None:
    engine = make_engine(database_url)
    create_tables(engine, BACKBONE_TABLES)
    with Session(engine) as session:
        for i in range(N_EVENTS):
            add_to_outbox(session, CatalogChanged(correlation_id=f"relay{i}", uais=[f"0690{i:03d}A"],
                                                  change="profile"))
        session.commit()
    brokers = [RedisBroker(redis_url, logger=None) for _ in range(2)]
    for broker in brokers:
        await broker.connect()
    relays = [OutboxRelay(service=f"svc{i}", engine=engine, broker=b, maxlen=10_000)
              for i, b in enumerate(brokers)]
    try:
        # Both instances wake for the same commit, as they do in production.
        while sum(await asyncio.gather(*(relay.publish_pending() for relay in relays))):
            pass
    finally:
        for broker in brokers:
            await broker.stop()
        engine.dispose()


def test_two_relays_on_one_database_publish_each_event_once(database_url, redis_url):
    asyncio.run(_run_two_relays(database_url, redis_url))
    r = redis_sync.Redis.from_url(redis_url)
    events = Counter(body["event_id"] for body in stream_bodies(r, Streams.CATALOG_CHANGED))
    r.close()
    assert len(events) == N_EVENTS  # nothing lost: this part holds
    assert sum(events.values()) == N_EVENTS, f"{sum(events.values()) - N_EVENTS} entries published twice"
