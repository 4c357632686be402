"""DbThreads.run_write on a real SQLite file: a hot write runs on the event loop when the write lock is
free at once, and on a database thread, exactly once, when this process or another one holds it; the
WAL is then checkpointed by the runtime's task, not by those commits."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest
from sqlalchemy import text

from shared.platform.db import make_engine
from shared.platform.db_threads import DbThreads
from shared.platform.metrics import DB_WRITES
from shared.platform.sqlite_writes import (
    WriteLockBusy,
    checkpoint_off_the_commit,
    checkpoint_wal,
    now_or_never,
)


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/w.db")
    with engine.begin() as conn:
        conn.execute(text("create table t (i int, thread int)"))
    yield engine
    engine.dispose()


def _insert(engine, i: int) -> int:
    with engine.begin() as conn:
        conn.execute(text("insert into t values (:i, :thread)"), {"i": i, "thread": threading.get_ident()})
    return threading.get_ident()


def _rows(engine) -> list[tuple[int, int]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("select i, thread from t order by i"))]


def _count(pool: str, ran_on: str) -> float:
    return DB_WRITES.labels(pool, ran_on)._value.get()


def test_a_write_with_the_lock_free_runs_on_the_event_loop(engine):
    pool = DbThreads("t-free", workers=1, inline_writes=True)

    async def go() -> tuple[int, int]:
        return await pool.run_write(_insert, engine, 1), threading.get_ident()

    ran_on, loop_thread = asyncio.run(go())
    pool.shutdown()
    assert ran_on == loop_thread
    assert _rows(engine) == [(1, loop_thread)]
    assert (_count("t-free", "loop"), _count("t-free", "thread")) == (1, 0)


def test_another_process_holding_the_lock_sends_the_write_to_a_thread_that_waits_for_it(engine, tmp_path):
    other = sqlite3.connect(f"{tmp_path}/w.db", isolation_level=None)  # as another process would
    other.execute("BEGIN IMMEDIATE")
    pool = DbThreads("t-other", workers=1, inline_writes=True)

    async def go() -> tuple[int, int]:
        write = asyncio.ensure_future(pool.run_write(_insert, engine, 2))
        await asyncio.sleep(0.3)
        assert not write.done()  # waiting on a thread, while the loop goes on
        other.execute("COMMIT")
        return await asyncio.wait_for(write, 30), threading.get_ident()

    try:
        ran_on, loop_thread = asyncio.run(go())
    finally:
        other.close()
        pool.shutdown()
    assert ran_on != loop_thread
    assert _rows(engine) == [(2, ran_on)]  # written once
    assert (_count("t-other", "loop"), _count("t-other", "thread")) == (0, 1)


def test_a_thread_of_this_process_holding_the_lock_sends_the_write_to_a_thread(engine):
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with engine.begin() as conn:
            conn.execute(text("insert into t values (0, 0)"))
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(10)
    pool = DbThreads("t-thread", workers=1, inline_writes=True)

    async def go() -> int:
        write = asyncio.ensure_future(pool.run_write(_insert, engine, 3))
        await asyncio.sleep(0.2)
        release.set()
        return await asyncio.wait_for(write, 30)

    try:
        ran_on = asyncio.run(go())
    finally:
        release.set()
        holder.join(10)
        pool.shutdown()
    assert [i for i, _ in _rows(engine)] == [0, 3]
    assert ran_on != threading.get_ident()
    assert _count("t-thread", "thread") == 1


def test_only_the_first_transaction_gives_way(engine):
    """Once a call committed something, its later transactions wait for the lock: giving way then would
    make the caller run the whole call again and write its first rows twice."""
    holding, release = threading.Event(), threading.Event()

    def two_transactions() -> None:
        _insert(engine, 10)
        holder = threading.Thread(target=hold)
        holder.start()
        holding.wait(10)
        threading.Timer(0.2, release.set).start()
        _insert(engine, 11)  # waits for the holder instead of raising WriteLockBusy
        holder.join(10)

    def hold() -> None:
        with engine.begin() as conn:
            conn.execute(text("insert into t values (0, 0)"))
            holding.set()
            release.wait(10)

    with now_or_never():
        two_transactions()
    assert [i for i, _ in _rows(engine)] == [0, 10, 11]


def test_now_or_never_refuses_at_once_when_the_lock_is_held(engine, tmp_path):
    other = sqlite3.connect(f"{tmp_path}/w.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with now_or_never(), pytest.raises(WriteLockBusy):
            _insert(engine, 4)
    finally:
        other.execute("ROLLBACK")
        other.close()
    _insert(engine, 5)  # the refused attempt left the process's lock free
    assert [i for i, _ in _rows(engine)] == [5]
    with engine.connect() as conn:  # and SQLite's busy timeout as it was, for the waits that follow
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000


@pytest.mark.parametrize("off_the_commit", [True, False])
def test_commits_leave_the_wal_to_the_checkpoint_task(tmp_path, off_the_commit):
    """With inline writes, no commit copies the WAL back (that took 5–14 ms on the event loop every
    1 000 pages); checkpoint_wal, run by the runtime's background task on a thread, does."""
    engine = make_engine(f"sqlite:///{tmp_path}/c.db")
    with engine.begin() as conn:
        conn.execute(text("create table t (i int, thread int)"))
    if off_the_commit:
        checkpoint_off_the_commit(engine)
    for batch in range(16):  # ~100 pages per commit: past SQLite's 1 000-page autocheckpoint
        with engine.begin() as conn:
            conn.execute(text("insert into t values (:i, :pad)"),
                         [{"i": batch * 1000 + i, "pad": "x" * 400} for i in range(1000)])
    busy, in_wal, copied = checkpoint_wal(engine)
    engine.dispose()
    assert busy == 0 and copied == in_wal  # all of it is in the database file now
    if off_the_commit:
        assert in_wal > 1_500  # every commit's pages: none was copied back at commit
    else:  # SQLite's default, for contrast: a commit checkpointed, the WAL started over
        assert in_wal < 1_100


def test_a_wal_past_its_limit_is_copied_back_whole_and_truncated(tmp_path, monkeypatch):
    """Under sustained writes a PASSIVE checkpoint never copies the whole WAL (frames keep arriving), so
    the WAL never starts over and grows (546 MiB in 10 s of wrk on intake). Past the limit, the rest is
    copied with this process's writers held, and the file truncated."""
    import shared.platform.sqlite_writes as sqlite_writes

    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    with engine.begin() as conn:
        conn.execute(text("create table t (i int, thread int)"))
    checkpoint_off_the_commit(engine)
    monkeypatch.setattr(sqlite_writes, "WAL_TRUNCATE_FRAMES", 500)
    wal = tmp_path / "t.db-wal"

    def write(pages: int) -> None:
        for _ in range(pages // 100):
            with engine.begin() as conn:
                conn.execute(text("insert into t values (:i, :pad)"), [{"i": i, "pad": "x" * 400} for i in range(1000)])

    write(300)  # under the limit: copied, the file kept for the next writer to start over
    busy, in_wal, copied = checkpoint_wal(engine)
    assert busy == 0 and 0 < in_wal <= 500 and copied == in_wal and wal.stat().st_size > 0
    write(1200)  # past it
    assert checkpoint_wal(engine) == (0, 0, 0) and wal.stat().st_size == 0
    with engine.connect() as conn:
        assert conn.exec_driver_sql("select count(*) from t").scalar() == 15_000
    engine.dispose()
