"""docs/operations.md, Recovery, "A database is lost": a service's database is restored from a dump
older than what it had handled; the events published since the dump are still on their stream but
its consumer group had acknowledged them, so nothing brings them back by itself. The documented
step marks them unpublished in the *other* services' outboxes,

    UPDATE outbox_event SET published_at = NULL WHERE published_at > '<time of the dump minus 5 minutes>';

and their relays publish them again (same event ids, new stream entries); the restored service's
consumer handles each of them once, and what the dump already held is not handled twice.

The outbox that is updated is on SQLite and PostgreSQL (``database_url``); the restored consumer's
database is an SQLite file dumped with SQLite's backup (what `sqlite3 … ".backup …"` does) and restored by
replacing the file (the pg_dump / pg_restore commands themselves are tests/deploy/test_backup_restore.py's)."""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from faststream.redis import RedisBroker
from sqlalchemy import text, update
from sqlmodel import Session

from shared.contracts.events import CatalogChanged
from shared.platform.clock import utcnow
from shared.platform.db import create_tables, make_engine
from shared.platform.outbox import BACKBONE_TABLES, OutboxEvent, add_to_outbox
from shared.platform.relay import OutboxRelay
from tests.integration.test_backbone import Worker, _effects
from tests.support.eventually import eventually

pytestmark = pytest.mark.timeout(180)


def _event(i: int) -> CatalogChanged:
    return CatalogChanged(correlation_id=f"restore{i}", uais=[f"0691{i:03d}A"], change="profile")


def dump(db: Path, target: Path) -> None:
    """`sqlite3 DB ".backup TARGET"` (docs/operations.md, Backup and restore)."""
    with sqlite3.connect(db) as source, sqlite3.connect(target) as copy:
        source.backup(copy)


def restore(dump_file: Path, db: Path) -> None:
    """The database file replaced by the dump, with its write-ahead log gone (it holds the lost writes).

    The dump is copied beside the file and renamed over it: the restored database is a new inode, so
    nothing that had the old file open (SQLite shares its lock and shared-memory state per inode
    within a process) can mix its state with the restored file's, and a half-copied file is never
    seen under the database's name."""
    gc.collect()  # connections of this process that only the garbage collector would close
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    incoming = db.with_name(db.name + ".restoring")
    shutil.copy(dump_file, incoming)
    os.replace(incoming, db)


def _holders(db: Path) -> str:
    """Which processes have the database's files open, and what the folder holds: said when a read fails."""
    names = {str(db), f"{db}-wal", f"{db}-shm"}
    holders = []
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            for fd in fd_dir.iterdir():
                if os.readlink(fd).removesuffix(" (deleted)") in names:
                    holders.append(f"pid {fd_dir.parent.name}: {os.readlink(fd)}")
        except OSError:
            continue
    files = sorted(f"{p.name} {p.stat().st_size} B" for p in db.parent.iterdir())
    return f"open by: {holders or 'nobody'}; folder: {files}"


def _relay(engine, redis_url: str, events: list[CatalogChanged]) -> int:
    """Add ``events`` to the outbox (if any) and run the relay until nothing is left; returns how many it published."""
    with Session(engine) as session:
        for ev in events:
            add_to_outbox(session, ev)
        session.commit()

    async def relay_once() -> int:
        broker = RedisBroker(redis_url, logger=None)
        await broker.connect()
        relay = OutboxRelay(service="catalog", engine=engine, broker=broker, maxlen=1000)
        published = 0
        while n := await relay.publish_pending():
            published += n
        await relay.flush_marks()
        await broker.stop()
        return published

    return asyncio.run(relay_once())


def test_marking_the_other_outboxes_unpublished_catches_a_restored_database_up_once(database_url, redis_url, tmp_path):
    producer = make_engine(database_url)  # another service's database: its outbox
    create_tables(producer, BACKBONE_TABLES)
    consumer_db = tmp_path / "restored.db"
    consumer_url = f"sqlite:///{consumer_db}"
    before = [_event(i) for i in range(3)]
    after = [_event(10 + i) for i in range(4)]
    worker = Worker(consumer_url, redis_url, "normal", "w")
    try:
        _relay(producer, redis_url, before)
        eventually(lambda: len(_effects(consumer_url)) == 3, timeout=60, what="first events handled")
        with producer.begin() as conn:  # they left an hour before the dump
            t = OutboxEvent.__table__
            conn.execute(update(t).values(published_at=utcnow() - timedelta(hours=1)))
        worker.stop()
        dump(consumer_db, tmp_path / "dump.db")
        dump_time = utcnow()
        worker = Worker(consumer_url, redis_url, "normal", "w")
        _relay(producer, redis_url, after)
        eventually(lambda: len(_effects(consumer_url)) == 7, timeout=60, what="events after the dump handled")
        worker.stop()

        restore(tmp_path / "dump.db", consumer_db)  # the database is lost, restored from the dump
        # Read before the worker restarts: an event whose effect committed just before the SIGTERM and
        # whose ack did not leave is still pending, and the restarted worker rightly handles it again.
        try:
            restored = _effects(consumer_url)
        except Exception as exc:  # the rare "disk I/O error" seen in CI: say what held the files
            raise AssertionError(f"the restored database could not be read: {exc!r}; {_holders(consumer_db)}") from exc
        assert set(restored) == {str(e.event_id) for e in before}
        worker = Worker(consumer_url, redis_url, "normal", "w")
        # The documented statement, as an operator types it (UTC).
        cutoff = (dump_time - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S+00")
        with producer.begin() as conn:
            marked = conn.execute(text(
                f"UPDATE outbox_event SET published_at = NULL WHERE published_at > '{cutoff}'")).rowcount
        assert marked == len(after)
        assert _relay(producer, redis_url, []) == len(after)  # what the service's relay does on its next pass
        expected = {str(e.event_id): 1 for e in [*before, *after]}
        eventually(lambda: _effects(consumer_url) == expected, timeout=60, what="caught up, each event once")
    finally:
        worker.stop()
        producer.dispose()
