"""The matcher as a real process, SIGKILLed in the middle of a batch and restarted: every request
is routed exactly once (one decision in the database, one routing per request on the stream)."""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict

import pytest
import redis as redis_sync
from faststream.redis import RedisBroker
from sqlalchemy import create_engine, text

from shared.contracts.events import Streams, event_to_payload
from tests.matcher.catalog_stub import CatalogStub
from tests.matcher.fakes import make_snapshot, submitted
from tests.support.eventually import eventually
from tests.support.live import ServiceProcess, service_env

pytestmark = pytest.mark.timeout(120)

# Enough requests that the matcher is still busy when it is killed: at ~1.5 ms per request in
# process, 150 could all be routed between two polls on a fast, idle machine.
N = 800
POSTCODES = ["69007", "69003", "69100", "42100", "97400", "69009"]


def decisions(db_path) -> list[str]:
    engine = create_engine(f"sqlite:///{db_path}")
    try:
        with engine.connect() as conn:
            return [r[0] for r in conn.execute(text("SELECT request_id FROM matcher_routing_decision"))]
    except Exception:
        return []  # tables not created yet
    finally:
        engine.dispose()


def stream_bodies(r: redis_sync.Redis, stream: str) -> list[dict]:
    """JSON bodies of a stream's entries (faststream frames them after a binary header)."""
    out = []
    for _, fields in r.xrange(stream):
        raw = fields[b"__data__"]
        out.append(json.loads(raw[raw.index(b'{"event_type"'):]))
    return out


def test_matcher_killed_mid_batch_routes_every_request_exactly_once(tmp_path, redis_url):
    events = [submitted(POSTCODES[i % len(POSTCODES)], ["pfmp"], ["boulanger"], siret=f"{10_000_000_000_000 + i}")
              for i in range(N)]
    expected = {str(e.request_id) for e in events}
    db_path = tmp_path / "matcher.db"
    with CatalogStub(make_snapshot()) as stub:
        env = service_env(tmp_path, redis_url, MLP_CATALOG_URL=stub.url, MLP_INSTANCE="matcher-test")
        matcher = ServiceProcess("matcher", env, log_dir=tmp_path / "logs").start()
        try:
            async def publish() -> None:
                broker = RedisBroker(redis_url, logger=None)
                await broker.connect()
                for event in events:
                    await broker.publish(event_to_payload(event), stream=Streams.REQUEST_SUBMITTED)
                await broker.stop()

            asyncio.run(publish())
            eventually(lambda: len(decisions(db_path)) >= 15, timeout=60, interval=0.02)
            matcher.kill()  # SIGKILL mid-batch: some entries read and not acked, some not read yet
            done_at_kill = len(decisions(db_path))
            assert done_at_kill < N, "the batch finished before the kill: nothing was interrupted"
            matcher.start()
            eventually(lambda: len(decisions(db_path)) >= N, timeout=60)
            r = redis_sync.Redis.from_url(redis_url)
            eventually(lambda: r.xlen(Streams.REQUEST_ROUTED) >= N, timeout=60)
            eventually(lambda: r.xpending(Streams.REQUEST_SUBMITTED, "matcher")["pending"] == 0, timeout=60)
            time.sleep(0.5)  # anything still in flight would show up now
        finally:
            matcher.stop()
    routed = decisions(db_path)
    assert len(routed) == N and set(routed) == expected  # exactly one decision per request
    routings: dict[str, set[str]] = defaultdict(set)
    for body in stream_bodies(r, Streams.REQUEST_ROUTED):
        routings[body["data"]["request_id"]].add(body["data"]["routing_id"])
    assert set(routings) == expected
    assert all(len(ids) == 1 for ids in routings.values())  # one routing per request (a re-sent copy keeps its id)
