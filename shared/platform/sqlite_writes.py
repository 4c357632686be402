"""SQLite's writers: one at a time per process, and the hot writes that run on the event loop.

SQLite lets one writer in at a time. This process's transactions queue on a Python lock before they
take SQLite's (``serialize_writers``); a write run on the event loop (``DbThreads.run_write``) takes
neither if it cannot have them at once (``now_or_never``, ``WriteLockBusy``); the WAL of an engine whose
writes run so is checkpointed by a background task, not by its commits (``checkpoint_wal``).
"""

from __future__ import annotations

import contextvars
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, event
from sqlalchemy.exc import DBAPIError

_HOLDS_WRITE_LOCK = "mlp_holds_write_lock"
_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()


def serialize_writers(engine: Engine) -> None:
    """Every SQLite transaction starts with BEGIN IMMEDIATE, and this process's transactions
    first queue on a Python lock.

    A deferred transaction that reads then writes fails at once with "database is locked" when
    another writer got there first (the busy timeout does not apply to that upgrade); taking the
    write lock at BEGIN makes it wait its turn instead. SQLite lets one writer in at a time, and
    its busy handler waits by sleeping in steps of up to 100 ms: under load, threads of one process
    (HTTP requests, stream consumers, the relay) would wake late and add those sleeps to the
    latency. Queuing them on a lock hands the database over as soon as it is free. Other
    processes on the same file still wait through the busy timeout.
    """
    lock = threading.Lock()
    _WRITE_LOCKS[engine] = lock

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:  # pragma: no cover - trivial
        if _NOW_OR_NEVER.get():
            _begin_now_or_never(conn)
            return
        # Bounded wait: if this thread somehow waits on itself, fall back on SQLite's own timeout
        # (and its "database is locked" error) rather than hang.
        if lock.acquire(timeout=LOCK_WAIT_S):
            conn.info[_HOLDS_WRITE_LOCK] = True
        try:
            # On the driver's connection: SQLAlchemy's statement execution (context, events, result)
            # around a bare BEGIN cost more than SQLite's own work, on every transaction of every service.
            conn.connection.driver_connection.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            _release(conn.info)
            raise DBAPIError.instance("BEGIN IMMEDIATE", (), exc, sqlite3.Error) from exc
        except BaseException:
            _release(conn.info)
            raise

    def _begin_now_or_never(conn) -> None:
        """BEGIN IMMEDIATE without waiting, for a write run on the event loop (``DbThreads.run_write``):
        WriteLockBusy when this process's lock or SQLite's is taken. Only the call's first transaction
        is tried so: once it began, its later ones (a failed batch retried request by request) wait as
        usual, because giving way then would run again what they already committed."""
        _NOW_OR_NEVER.set(False)
        if not lock.acquire(blocking=False):
            raise WriteLockBusy
        conn.info[_HOLDS_WRITE_LOCK] = True
        driver = conn.connection.driver_connection
        try:
            driver.execute("PRAGMA busy_timeout=0")
            try:
                driver.execute("BEGIN IMMEDIATE")
            finally:
                driver.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        except sqlite3.Error as exc:
            _release(conn.info)
            # Another process writes (SQLITE_BUSY, or an extended code of it: the low byte is the primary code).
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY:
                raise WriteLockBusy from exc
            raise DBAPIError.instance("BEGIN IMMEDIATE", (), exc, sqlite3.Error) from exc
        except BaseException:
            _release(conn.info)
            raise

    def _release(info) -> None:
        if info.pop(_HOLDS_WRITE_LOCK, False):
            lock.release()

    # commit/rollback fire just before SQLite ends the transaction: a waiter may find the lock
    # still held for a few microseconds and go through one short busy-handler sleep, no more.
    event.listen(engine, "commit", lambda conn: _release(conn.info))
    event.listen(engine, "rollback", lambda conn: _release(conn.info))
    # A connection returned to the pool with its transaction still open (reset by the pool).
    event.listen(engine.pool, "checkin", lambda _dbapi, record: _release(record.info) if record else None)


LOCK_WAIT_S = 30
BUSY_TIMEOUT_MS = 30_000


class WriteLockBusy(Exception):
    """A write tried on the event loop found SQLite's write lock taken: it runs on a database thread instead."""


# Set (in a copied context) by DbThreads.run_write around a call it runs on the event loop.
_NOW_OR_NEVER: contextvars.ContextVar[bool] = contextvars.ContextVar("mlp_sqlite_now_or_never", default=False)


def checkpoint_off_the_commit(engine: Engine) -> None:
    """No connection of this SQLite engine checkpoints the WAL when it commits: ``checkpoint_wal``, on a
    database thread, does. The commit that crossed SQLite's 1 000 pages copied them back and synced the
    file, 5–14 ms here, on whatever thread committed, the event loop for an inline write (run_write)."""

    @event.listens_for(engine, "connect")
    def _no_autocheckpoint(dbapi_connection, _record) -> None:  # pragma: no cover - trivial
        dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")

    engine.dispose()  # the connections already pooled (schema check) were opened without it


WAL_TRUNCATE_FRAMES = 4_000  # 16 MiB of 4 KiB pages


def checkpoint_wal(engine: Engine) -> tuple[int, int, int]:
    """Copy the WAL back into the database. SQLite's answer: (1 if blocked, frames in the WAL, frames copied).

    First without waiting for readers or writers (PASSIVE). The WAL starts over only after a checkpoint
    that copied all of it, and under sustained writes a PASSIVE one never does: new frames arrive while it
    copies (intake under wrk grew a 546 MiB WAL in 10 s). Past ``WAL_TRUNCATE_FRAMES``, the rest is copied
    with this process's writers held on its write lock (they queue there, not in SQLite's busy sleeps) and
    the file truncated. On the driver's connection: no transaction (SQLAlchemy would begin one)."""
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        busy, in_wal, copied = driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()  # type: ignore[union-attr]
        if in_wal > WAL_TRUNCATE_FRAMES:
            with _writers_held(engine):
                busy, in_wal, copied = driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()  # type: ignore[union-attr]
    finally:
        raw.close()
    return busy, in_wal, copied


@contextmanager
def _writers_held(engine: Engine) -> Iterator[None]:
    """This process's writers of ``engine`` wait on its lock meanwhile (bounded wait, as theirs)."""
    lock = _WRITE_LOCKS.get(engine)
    held = lock is not None and lock.acquire(timeout=LOCK_WAIT_S)
    try:
        yield
    finally:
        if held and lock is not None:
            lock.release()


@contextmanager
def now_or_never() -> Iterator[None]:
    """The first SQLite transaction begun inside never waits for the write lock: WriteLockBusy instead."""
    token = _NOW_OR_NEVER.set(True)
    try:
        yield
    finally:
        _NOW_OR_NEVER.reset(token)
