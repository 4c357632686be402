"""The event backbone on a real redis-server and a real database (SQLite and PostgreSQL):
outbox -> relay -> stream -> reliable consumer."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time

import pytest
import redis as redis_sync
from faststream.redis import RedisBroker
from sqlmodel import Session, func, select

from shared.contracts.events import CatalogChanged, Streams
from shared.platform.db import create_tables, make_engine
from shared.platform.outbox import BACKBONE_TABLES, OutboxEvent, add_to_outbox
from shared.platform.relay import OutboxRelay
from tests.support.backbone_worker import Effect
from tests.support.eventually import eventually, eventually_async
from tests.support.servers import RedisServer

pytestmark = pytest.mark.timeout(120)


class Worker:
    def __init__(self, db_url: str, redis_url: str, mode: str, name: str, claim_ms: int = 500) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.backbone_worker", db_url, redis_url, mode, name, str(claim_ms)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.seen: list[str] = []  # lines read while waiting (the worker may log before READY)
        self.wait_for("READY")

    def wait_for(self, marker: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            self.seen.append(line)
            if marker in line:
                return
            if not line and self.proc.poll() is not None:
                raise AssertionError(f"worker exited before {marker}")
        raise AssertionError(f"worker never printed {marker}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def _event(i: int = 0) -> CatalogChanged:
    return CatalogChanged(correlation_id=f"test{i}", uais=[f"0690{i:03d}A"], change="profile")


def _publish_via_outbox(db_url: str, redis_url: str, events: list[CatalogChanged]) -> None:
    engine = make_engine(db_url)
    create_tables(engine, BACKBONE_TABLES)
    with Session(engine) as session:
        for ev in events:
            add_to_outbox(session, ev)
        session.commit()

    async def relay_once() -> None:
        broker = RedisBroker(redis_url, logger=None)
        await broker.connect()
        relay = OutboxRelay(service="test", engine=engine, broker=broker, maxlen=1000)
        while await relay.publish_pending():
            pass
        await broker.stop()

    asyncio.run(relay_once())
    engine.dispose()


def _effects(db_url: str) -> dict[str, int]:
    engine = make_engine(db_url)
    create_tables(engine, [*BACKBONE_TABLES, Effect])
    with Session(engine) as session:
        rows = session.exec(select(Effect.event_id, func.count()).group_by(Effect.event_id)).all()
    engine.dispose()
    return dict(rows)


def test_outbox_event_reaches_consumer_exactly_once(database_url, redis_url):
    events = [_event(i) for i in range(20)]
    worker = Worker(database_url, redis_url, "normal", "a")
    try:
        _publish_via_outbox(database_url, redis_url, events)
        eventually(lambda: len(_effects(database_url)) == 20, timeout=60)
        time.sleep(0.5)
        effects = _effects(database_url)
        assert effects == {str(e.event_id): 1 for e in events}
    finally:
        worker.stop()


def test_a_published_batch_is_marked_by_the_next_lease_and_never_published_again(database_url, redis_url):
    """The mark rides on the next turn's lease: that lease, which retakes this relay's own
    unmarked rows (a failed publish), must not retake the ones it already published."""
    engine = make_engine(database_url)
    create_tables(engine, BACKBONE_TABLES)
    with Session(engine) as session:
        for i in range(3):
            add_to_outbox(session, _event(i))
        session.commit()

    def unmarked() -> int:
        with Session(engine) as session:
            return session.exec(select(func.count()).select_from(OutboxEvent)
                                .where(OutboxEvent.published_at == None)).one()  # noqa: E711

    async def turns() -> list[int]:
        broker = RedisBroker(redis_url, logger=None)
        await broker.connect()
        relay = OutboxRelay(service="test", engine=engine, broker=broker, maxlen=1000)
        seen = [await relay.publish_pending(), unmarked()]
        seen += [await relay.publish_pending(), unmarked()]
        with Session(engine) as session:  # committed after the last turn: marked only when flushed
            add_to_outbox(session, _event(9))
            session.commit()
        seen += [await relay.publish_pending(), unmarked()]
        await relay.flush_marks()
        seen.append(unmarked())
        await broker.stop()
        return seen

    try:
        assert asyncio.run(turns()) == [3, 3, 0, 0, 1, 1, 0]
        r = redis_sync.Redis.from_url(redis_url)
        assert r.xlen(Streams.CATALOG_CHANGED) == 4  # each row published once
        r.close()
    finally:
        engine.dispose()


def test_an_idle_relay_marks_its_last_batch_at_once_not_at_its_next_poll(database_url, redis_url):
    """With no next turn coming, the running relay writes the mark alone: a published row must not
    stay counted as waiting (the backlog gauge) nor out of an erasure's reach until the poll."""
    engine = make_engine(database_url)
    create_tables(engine, BACKBONE_TABLES)

    def unmarked() -> int:
        with Session(engine) as session:
            return session.exec(select(func.count()).select_from(OutboxEvent)
                                .where(OutboxEvent.published_at == None)).one()  # noqa: E711

    async def scenario() -> tuple[float, int]:
        broker = RedisBroker(redis_url, logger=None)
        await broker.connect()
        relay = OutboxRelay(service="test", engine=engine, broker=broker, maxlen=1000, interval_s=30)
        task = asyncio.create_task(relay.run())
        await asyncio.sleep(0.2)  # started, idle
        with Session(engine) as session:  # the commit wakes the relay
            add_to_outbox(session, _event(1))
            session.commit()
        started = time.monotonic()
        try:
            await eventually_async(lambda: not unmarked(), timeout=10, interval=0.01, what="the event published")
        finally:
            waited = time.monotonic() - started
            relay.stop()
            await task
            await broker.stop()
        return waited, unmarked()

    try:
        waited, left = asyncio.run(scenario())
        assert left == 0
        assert waited < 5, f"marked after {waited:.1f} s: it waited for the poll (30 s)"
        r = redis_sync.Redis.from_url(redis_url)
        assert r.xlen(Streams.CATALOG_CHANGED) == 1
        r.close()
    finally:
        engine.dispose()


def test_killed_consumer_entry_is_claimed_by_another(database_url, redis_url, tmp_path):
    hanging = Worker(database_url, redis_url, "hang", "hang")
    # Published from another database: the hanging handler holds the consumer database's write
    # lock (SQLite), which the publisher's "mark published" would otherwise wait for.
    _publish_via_outbox(f"sqlite:///{tmp_path}/publisher.db", redis_url, [ev := _event(1)])
    hanging.wait_for("HANDLING")
    hanging.kill()  # read, never acked
    r = redis_sync.Redis.from_url(redis_url)
    assert r.xpending(Streams.CATALOG_CHANGED, "testgroup")["pending"] == 1
    survivor = Worker(database_url, redis_url, "normal", "survivor")
    try:
        eventually(lambda: _effects(database_url).get(str(ev.event_id)) == 1, timeout=60)
        eventually(lambda: r.xpending(Streams.CATALOG_CHANGED, "testgroup")["pending"] == 0, timeout=60)
    finally:
        survivor.stop()


def test_always_failing_handler_dead_letters_after_max_deliveries(tmp_path, redis_url):
    db_url = f"sqlite:///{tmp_path}/dlq.db"
    worker = Worker(db_url, redis_url, "fail", "f", claim_ms=200)
    r = redis_sync.Redis.from_url(redis_url)
    try:
        _publish_via_outbox(db_url, redis_url, [_event(2)])
        dlq = Streams.dead_letter("testgroup")
        eventually(lambda: r.xlen(dlq) == 1, timeout=60)
        time.sleep(1.5)  # several claim periods: no further delivery, no second dead letter
        assert r.xlen(dlq) == 1
        (_, fields), = r.xrange(dlq)
        assert fields[b"deliveries"] == b"4"  # 3 tries allowed, the 4th delivery dead-letters
        assert b"handler always fails" in fields[b"error"]
        assert r.xpending(Streams.CATALOG_CHANGED, "testgroup")["pending"] == 0
        assert _effects(db_url) == {}
    finally:
        worker.stop()


def test_a_batch_is_handled_together_and_one_failing_event_does_not_hold_back_the_others(database_url, redis_url):
    """Entries already in the stream when the consumer starts arrive as one batch (one transaction);
    one failing event rolls the batch back, the others are then applied one by one and only the
    failing one is retried, then dead-lettered."""
    good = [_event(i) for i in range(30)]
    bad = CatalogChanged(correlation_id="bad", uais=["BAD"], change="profile")
    _publish_via_outbox(database_url, redis_url, [*good[:15], bad, *good[15:]])
    r = redis_sync.Redis.from_url(redis_url)
    worker = Worker(database_url, redis_url, "failsome", "s", claim_ms=200)
    try:
        eventually(lambda: len(_effects(database_url)) == 30, timeout=60)
        eventually(lambda: r.xlen(Streams.dead_letter("testgroup")) == 1, timeout=60)
        assert _effects(database_url) == {str(e.event_id): 1 for e in good}
        (_, fields), = r.xrange(Streams.dead_letter("testgroup"))
        assert str(bad.event_id).encode() in fields[b"payload"]
        eventually(lambda: r.xpending(Streams.CATALOG_CHANGED, "testgroup")["pending"] == 0, timeout=60)
    finally:
        worker.stop()
    log = "".join(worker.seen) + (worker.proc.stdout.read() if worker.proc.stdout else "")
    assert "event_batch_split" in log  # the 31 entries were read together, then split


def test_poison_payload_goes_to_dead_letter_at_once(tmp_path, redis_url):
    db_url = f"sqlite:///{tmp_path}/poison.db"
    worker = Worker(db_url, redis_url, "normal", "p")
    r = redis_sync.Redis.from_url(redis_url)
    try:
        async def publish_garbage():
            broker = RedisBroker(redis_url, logger=None)
            await broker.connect()
            await broker.publish({"event_type": "catalog.changed", "data": {"nope": 1}}, stream=Streams.CATALOG_CHANGED)
            await broker.publish("pas du json", stream=Streams.CATALOG_CHANGED)
            await broker.stop()

        asyncio.run(publish_garbage())
        r.xadd(Streams.CATALOG_CHANGED, {"champ": "sans enveloppe faststream"})  # written by another tool
        eventually(lambda: r.xlen(Streams.dead_letter("testgroup")) == 3, timeout=60)
        _publish_via_outbox(db_url, redis_url, [ok := _event(3)])  # the consumer keeps serving
        eventually(lambda: _effects(db_url).get(str(ok.event_id)) == 1, timeout=60)
    finally:
        worker.stop()


def test_same_event_delivered_twice_has_one_effect(database_url, redis_url):
    worker = Worker(database_url, redis_url, "normal", "d")
    try:
        ev = _event(4)
        _publish_via_outbox(database_url, redis_url, [ev])
        # Re-publish the very same event, as a relay that crashed before marking would.
        engine = make_engine(database_url)
        with Session(engine) as session:
            row = session.exec(select(OutboxEvent)).one()
            row.published_at = None
            session.add(row)
            session.commit()
        engine.dispose()
        _publish_via_outbox(database_url, redis_url, [])
        r = redis_sync.Redis.from_url(redis_url)
        eventually(lambda: r.xlen(Streams.CATALOG_CHANGED) == 2, timeout=60)
        eventually(lambda: r.xpending(Streams.CATALOG_CHANGED, "testgroup")["pending"] == 0
                   and (r.xinfo_groups(Streams.CATALOG_CHANGED)[0]["lag"] or 0) == 0, timeout=60)
        time.sleep(0.3)
        assert _effects(database_url) == {str(ev.event_id): 1}
    finally:
        worker.stop()


def test_event_accepted_while_redis_down_is_published_after_restart(tmp_path):
    server = RedisServer()
    db_url = f"sqlite:///{tmp_path}/down.db"
    engine = make_engine(db_url)
    create_tables(engine, BACKBONE_TABLES)
    ev = _event(5)
    with Session(engine) as session:  # accepted while no Redis runs at all
        add_to_outbox(session, ev)
        session.commit()

    async def scenario() -> None:
        broker = RedisBroker(server.url, logger=None)
        relay = OutboxRelay(service="test", engine=engine, broker=broker, maxlen=1000, interval_s=0.05)

        async def connect_and_run():
            while True:
                try:
                    await broker.connect()
                    await broker._connection.ping()
                    break
                except Exception:
                    await asyncio.sleep(0.1)
            await relay.run()

        task = asyncio.create_task(connect_and_run())
        await asyncio.sleep(1.0)
        server.start()
        r = redis_sync.Redis.from_url(server.url)
        await eventually_async(lambda: r.exists(Streams.CATALOG_CHANGED) and r.xlen(Streams.CATALOG_CHANGED) >= 1,
                               timeout=10, what="the event on the stream")
        await asyncio.sleep(0.3)
        relay.stop()
        task.cancel()
        assert r.xlen(Streams.CATALOG_CHANGED) == 1
        (_, fields), = r.xrange(Streams.CATALOG_CHANGED)
        assert str(ev.event_id).encode() in b"".join(fields.values())
        await broker.stop()

    try:
        asyncio.run(scenario())
        with Session(engine) as session:
            assert session.exec(select(OutboxEvent)).one().published_at is not None
    finally:
        server.stop()
        engine.dispose()


def test_consumer_survives_redis_restart(tmp_path):
    """Redis restarted mid-flow (persistent, as in production): the consumer reconnects and
    both the entries published before and after the restart are handled exactly once."""
    server = RedisServer(persistent=True).start()
    db_url = f"sqlite:///{tmp_path}/restart.db"
    worker = Worker(db_url, server.url, "normal", "r")
    try:
        before = [_event(10 + i) for i in range(5)]
        _publish_via_outbox(db_url, server.url, before)
        eventually(lambda: len(_effects(db_url)) == 5, timeout=60)
        server.stop()
        time.sleep(1.0)
        server.start()
        after = [_event(20 + i) for i in range(5)]
        _publish_via_outbox(db_url, server.url, after)
        eventually(lambda: len(_effects(db_url)) == 10, timeout=30)
        assert _effects(db_url) == {str(e.event_id): 1 for e in before + after}
    finally:
        worker.stop()
        server.stop()


def test_event_published_before_the_consumer_first_starts_is_delivered(tmp_path, redis_url):
    db_url = f"sqlite:///{tmp_path}/early.db"
    _publish_via_outbox(db_url, redis_url, [early := _event(30)])  # no consumer group exists yet
    worker = Worker(db_url, redis_url, "normal", "late")
    try:
        eventually(lambda: _effects(db_url).get(str(early.event_id)) == 1, timeout=60)
    finally:
        worker.stop()


def test_consumer_recovers_without_restart_when_redis_loses_its_data(tmp_path):
    """FLUSHALL while the consumer runs: its group and stream vanish, faststream stops the reader
    on NOGROUP; the group watch (shared.platform.consumer_groups.watch_consumer_groups) recreates the
    group at "0" and restarts the subscribers, so what is published next is handled, no restart."""
    server = RedisServer().start()
    db_url = f"sqlite:///{tmp_path}/flush.db"
    worker = Worker(db_url, server.url, "normal", "f")
    r = redis_sync.Redis.from_url(server.url)
    try:
        before = [_event(40 + i) for i in range(3)]
        _publish_via_outbox(db_url, server.url, before)
        eventually(lambda: len(_effects(db_url)) == 3, timeout=60)
        r.flushall()
        time.sleep(0.3)  # the reader meets NOGROUP (or the relay below recreates the stream first)
        after = [_event(50 + i) for i in range(3)]
        _publish_via_outbox(db_url, server.url, after)
        eventually(lambda: len(_effects(db_url)) == 6, timeout=30, what="events after the flush handled")
        assert _effects(db_url) == {str(e.event_id): 1 for e in before + after}
        groups = {g["name"].decode() for g in r.xinfo_groups(Streams.CATALOG_CHANGED)}
        assert groups == {"testgroup"}
    finally:
        worker.stop()
        r.close()
        server.stop()
