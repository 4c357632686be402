"""`monlyceepro replay` after a loss of Redis's data, on a real redis-server and a real database
(SQLite and PostgreSQL): the outbox's published rows go back on their streams with their event
ids, once, and the stream/outbox comparison behind `mlp_outbox_published_not_in_stream` sees the
loss and its repair."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import redis as redis_sync
from faststream.redis import RedisBroker
from sqlalchemy import update
from sqlmodel import Session

from shared.contracts.events import CatalogChanged, Streams
from shared.platform.clock import utcnow
from shared.platform.db import create_tables, make_engine
from shared.platform.outbox import BACKBONE_TABLES, OutboxEvent, add_to_outbox
from shared.platform.relay import OutboxRelay
from shared.platform.replay import (
    REPLAYED_SINCE_KEY,
    parse_since,
    published_not_in_stream,
    replay_outbox,
)
from tests.support.audit import stream_bodies
from tests.support.live import ROOT

pytestmark = pytest.mark.timeout(120)
STREAM = Streams.CATALOG_CHANGED


def _event(i: int) -> CatalogChanged:
    return CatalogChanged(correlation_id=f"replay{i}", uais=[f"0690{i:03d}A"], change="profile")


def _outbox_and_relay(engine, redis_url: str, events) -> None:
    with Session(engine) as session:
        for ev in events:
            add_to_outbox(session, ev)
        session.commit()

    async def relay_once() -> None:
        broker = RedisBroker(redis_url, logger=None)
        await broker.connect()
        relay = OutboxRelay(service="catalog", engine=engine, broker=broker, maxlen=1000)
        while await relay.publish_pending():
            pass
        await relay.flush_marks()
        await broker.stop()

    asyncio.run(relay_once())


def _replay(engine, redis_url: str, since, dry_run: bool = False):
    async def run():
        broker = RedisBroker(redis_url, logger=None)
        await broker.connect()
        client = redis_sync.Redis.from_url(redis_url)
        try:
            return await replay_outbox(engine, broker, client, service="catalog", since=since, maxlen=1000,
                                       dry_run=dry_run)
        finally:
            client.close()
            await broker.stop()

    return asyncio.run(run())


def _ids_on_stream(r) -> list[str]:
    return [b["event_id"] for b in stream_bodies(r, STREAM)] if r.exists(STREAM) else []


def test_replay_republishes_what_redis_lost_once_with_the_same_event_ids(database_url, redis_url):
    engine = make_engine(database_url)
    create_tables(engine, BACKBONE_TABLES)
    r = redis_sync.Redis.from_url(redis_url)
    old, recent = [_event(i) for i in range(2)], [_event(10 + i) for i in range(4)]
    _outbox_and_relay(engine, redis_url, old + recent)
    # The stream holds what the outbox published (rows published a moment ago never count: clock slack).
    assert published_not_in_stream(engine, r, keep_days=7) == {}
    with engine.begin() as conn:  # the first two left three hours ago, the others ten minutes ago
        t = OutboxEvent.__table__
        for events, age in ((old, timedelta(hours=3)), (recent, timedelta(minutes=10))):
            conn.execute(update(t).where(t.c.event_id.in_([str(e.event_id) for e in events]))
                         .values(published_at=utcnow() - age))
    with Session(engine) as session:  # one row not published yet: the relay's business, not the replay's
        add_to_outbox(session, waiting := _event(20))
        session.commit()

    r.flushall()  # Redis loses its data
    assert published_not_in_stream(engine, r, keep_days=7) == {STREAM: 6}
    _outbox_and_relay(engine, redis_url, [after := _event(30)])  # traffic resumes: the stream comes back
    assert published_not_in_stream(engine, r, keep_days=7) == {STREAM: 6}, "the stream starts after them"

    dry = _replay(engine, redis_url, parse_since("1h"), dry_run=True)
    assert dry.published == {STREAM: 4} and dry.already_on_stream == {STREAM: 2}
    assert _ids_on_stream(r) == [str(waiting.event_id), str(after.event_id)]

    report = _replay(engine, redis_url, parse_since("1h"))
    assert report.published == {STREAM: 4} and report.already_on_stream == {STREAM: 2}
    assert _ids_on_stream(r)[2:] == [str(e.event_id) for e in recent]  # same ids, outbox order
    assert stream_bodies(r, STREAM)[2]["correlation_id"] == "replay10"
    assert published_not_in_stream(engine, r, keep_days=7) == {STREAM: 2}, "the two older rows are still missing"
    assert int(r.hget(REPLAYED_SINCE_KEY, STREAM)) > 0

    again = _replay(engine, redis_url, parse_since("4h"))
    assert again.published == {STREAM: 2} and again.already_on_stream == {STREAM: 6}
    assert sorted(_ids_on_stream(r)) == sorted(str(e.event_id) for e in [*old, *recent, waiting, after])
    assert published_not_in_stream(engine, r, keep_days=7) == {}
    r.close()
    engine.dispose()


def test_the_cli_replays_each_service_and_reports(tmp_path, redis_url):
    db = tmp_path / "catalog.db"
    engine = make_engine(f"sqlite:///{db}")
    create_tables(engine, BACKBONE_TABLES)
    _outbox_and_relay(engine, redis_url, [_event(i) for i in range(3)])
    engine.dispose()
    r = redis_sync.Redis.from_url(redis_url)
    r.flushall()
    env = {"MLP_ENV": "test", "MLP_REDIS_URL": redis_url, "MLP_DATABASE_URL": f"sqlite:///{tmp_path}/{{service}}.db",
           "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "services.cli", "replay", "--since", "10m", "catalog"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "catalog : 3 événement(s) republié(s)" in result.stdout and "absents des flux : 0" in result.stdout
    assert len(_ids_on_stream(r)) == 3
    r.close()


def test_since_is_a_duration_or_an_iso_datetime():
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    assert parse_since("2h", now=now) == now - timedelta(hours=2)
    assert parse_since("30m", now=now) == now - timedelta(minutes=30)
    assert parse_since("90s", now=now) == now - timedelta(seconds=90)
    assert parse_since("1d", now=now) == parse_since("1j", now=now) == now - timedelta(days=1)
    assert parse_since("2026-03-10T09:30", now=now) == datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
    assert parse_since("2026-03-10T09:30+01:00", now=now) == datetime(2026, 3, 10, 8, 30, tzinfo=UTC)
    for bad in ("hier", "2h30", "2026-03-11T00:00"):
        with pytest.raises(ValueError):
            parse_since(bad, now=now)
