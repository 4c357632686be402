"""CPU cost of the outbox relay per published event, in process, on a real redis-server.

    .venv/bin/python -m tests.integration.bench_relay                  # turns of 1, 3 and 64 events
    .venv/bin/python -m tests.integration.bench_relay --sizes 1 --postgres

A turn is what a relay does after a commit woke it: ``--sizes`` events are committed to the outbox
(not timed), then ``publish_pending`` runs until the relay has nothing left (timed, CPU of this
process: the relay's database thread included, Redis and PostgreSQL servers not). Small turns are
the relay's life under a steady load (one or a few rows per wake-up); 64 is a backlog. Not a test
(no ``test_`` prefix); ``tests/bench/test_bench_smoke.py`` runs it with tiny counts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from faststream.redis import RedisBroker
from sqlmodel import Session

from shared.contracts.events import CatalogChanged
from shared.platform.db import create_tables, make_engine
from shared.platform.logging import configure_logging
from shared.platform.outbox import BACKBONE_TABLES, add_to_outbox
from shared.platform.relay import OutboxRelay
from tests.support.servers import RedisServer


def commit_events(engine, count: int, seq: int) -> None:
    with Session(engine) as session:
        for i in range(count):
            add_to_outbox(session, CatalogChanged(correlation_id=f"bench{seq}-{i}", uais=["0690001A"],
                                                  change="profile"))
        session.commit()


async def turns(relay: OutboxRelay, engine, size: int, count: int, seq: int) -> float:
    """CPU seconds of ``count`` turns of ``size`` events."""
    cpu = 0.0
    for t in range(count):
        commit_events(engine, size, seq + t)
        started = time.process_time()
        while await relay.publish_pending() == relay.batch_size:
            pass
        cpu += time.process_time() - started
    return cpu


async def run(url: str, redis_url: str, sizes: list[int], events: int, rounds: int) -> None:
    engine = make_engine(url)
    create_tables(engine, BACKBONE_TABLES)
    broker = RedisBroker(redis_url, logger=None)
    await broker.connect()
    relay = OutboxRelay(service="bench", engine=engine, broker=broker, maxlen=10_000)
    try:
        await turns(relay, engine, 1, 50, 0)  # warm-up
        for size in sizes:
            count = max(1, events // size)
            per_event = []
            for r in range(rounds):
                per_event.append(await turns(relay, engine, size, count, 1000 * (r + 1)) / (count * size) * 1000)
            per_event.sort()
            print(f"turns of {size:>2} events: {per_event[0]:.3f} ms CPU per event (best of {rounds} rounds of "
                  f"{count * size} events; median {per_event[len(per_event) // 2]:.3f})", flush=True)
    finally:
        await broker.stop()
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1,3,64", help="events committed per turn")
    parser.add_argument("--events", type=int, default=600, help="events per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", action="store_true", help="a fresh database on the test PostgreSQL")
    args = parser.parse_args(argv)
    # The relay logs a JSON line per event as in a service, here into /dev/null (open for the whole run).
    real_stdout, sys.stdout = sys.stdout, open(os.devnull, "w")  # noqa: SIM115
    configure_logging("bench", "INFO")
    sys.stdout = real_stdout
    tmp = Path(tempfile.mkdtemp())
    url, drop = f"sqlite:///{tmp}/relay.db", None
    if args.postgres:
        from tests.support.servers import create_postgres_database, postgres_admin_url
        url, drop = create_postgres_database(postgres_admin_url())
    server = RedisServer().start()
    try:
        print(f"db={'postgresql' if args.postgres else 'sqlite'}", flush=True)
        asyncio.run(run(url, server.url, [int(s) for s in args.sizes.split(",")], args.events, args.rounds))
    finally:
        server.stop()
        if drop:
            drop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
