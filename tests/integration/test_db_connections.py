"""Engine behaviour on real databases: idle PostgreSQL connections are checked before reuse,
SQLite writers of one process queue for the write lock."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

import shared.platform.db as db


@pytest.mark.postgres
def test_a_postgresql_connection_dropped_while_idle_is_replaced(postgres_url, monkeypatch):
    database_url = postgres_url
    monkeypatch.setattr(db, "IDLE_PING_S", 0.2)
    engine, killer = db.make_engine(database_url), db.make_engine(database_url)
    try:
        with engine.connect() as conn:
            old_pid = conn.execute(text("select pg_backend_pid()")).scalar()
        with killer.connect() as conn:  # as a server restart or an idle timeout would
            conn.execute(text("select pg_terminate_backend(:pid)"), {"pid": old_pid})
            conn.commit()
        time.sleep(0.3)
        with engine.connect() as conn:  # no error reaches the caller
            assert conn.execute(text("select pg_backend_pid()")).scalar() != old_pid
    finally:
        engine.dispose()
        killer.dispose()


def test_sqlite_writers_of_one_process_all_commit_and_rollbacks_release_the_lock(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path}/w.db")
    with engine.begin() as conn:
        conn.execute(text("create table t (i int)"))

    def writer() -> None:
        for i in range(50):
            with engine.begin() as conn:
                conn.execute(text("insert into t values (:i)"), {"i": i})
            with pytest.raises(ValueError), engine.begin() as conn:
                conn.execute(text("insert into t values (-1)"))
                raise ValueError("rolled back")
            with engine.connect() as conn:  # closed with its transaction still open
                conn.execute(text("select count(*) from t"))

    threads = [threading.Thread(target=writer) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a writer never got the lock"
    with engine.connect() as conn:
        assert conn.execute(text("select count(*), min(i) from t")).one() == (300, 0)
    engine.dispose()
