"""A consumer process for backbone tests: `python -m tests.support.backbone_worker DB_URL REDIS_URL MODE NAME`.

MODE: ``normal`` records one effect row per event; ``hang`` blocks inside the handler (so the
test can SIGKILL it after the read, before the ack); ``fail`` always raises; ``failsome`` raises
only for events about the UAI ``BAD``.
"""

from __future__ import annotations

import asyncio
import sys
import time

from faststream.redis import RedisBroker
from redis.asyncio import Redis
from sqlmodel import Field, SQLModel

from shared.contracts.events import CatalogChanged, Streams
from shared.platform.consumer import subscribe_reliably
from shared.platform.consumer_groups import ensure_consumer_groups, watch_consumer_groups
from shared.platform.db import create_tables, make_engine
from shared.platform.logging import configure_logging
from shared.platform.outbox import BACKBONE_TABLES


class Effect(SQLModel, table=True):
    __tablename__ = "test_effect"
    id: int | None = Field(default=None, primary_key=True)
    event_id: str
    worker: str


def main() -> None:
    db_url, redis_url, mode, name = sys.argv[1:5]
    claim_ms = int(sys.argv[5]) if len(sys.argv) > 5 else 500
    configure_logging(f"worker-{name}")
    engine = make_engine(db_url)
    create_tables(engine, [*BACKBONE_TABLES, Effect])

    def handle(event: CatalogChanged, session) -> None:
        if mode == "hang":
            print("HANDLING", flush=True)
            time.sleep(3600)
        if mode == "fail" or (mode == "failsome" and "BAD" in event.uais):
            raise RuntimeError("handler always fails")
        session.add(Effect(event_id=str(event.event_id), worker=name))

    async def run() -> None:
        broker = RedisBroker(redis_url, logger=None)
        redis = Redis.from_url(redis_url)
        subscribe_reliably(
            broker, redis, engine, stream=Streams.CATALOG_CHANGED, group="testgroup", consumer=f"testgroup-{name}",
            handler=handle, max_deliveries=3, claim_idle_ms=claim_ms, polling_interval_ms=50,
        )
        await ensure_consumer_groups(broker, redis)  # as shared.platform.service does before start
        await broker.start()
        watcher = asyncio.create_task(watch_consumer_groups(broker, redis_url, interval_s=0.5))  # as the services do
        print("READY", flush=True)
        await asyncio.Event().wait()
        watcher.cancel()

    asyncio.run(run())


if __name__ == "__main__":
    main()
