"""CPU cost of the sender's lease query against the size of the backlog, in process.

    .venv/bin/python -m tests.notifier.bench_lease                         # 100, 1000, 4000, 10000 copies
    .venv/bin/python -m tests.notifier.bench_lease --backlogs 100,10000 --postgres
    # before the window: git worktree add /tmp/old 0648089~1 && cp tests/notifier/bench_lease.py
    #   /tmp/old/tests/notifier/ && cd /tmp/old && /work/main/.venv/bin/python -m tests.notifier.bench_lease

Requests are queued with the real ``start_thread`` (4 copies each) until the backlog holds the
given number of pending copies; then the lease's due-id query (``repository._DUE``, a batch of 64)
runs ``--rounds`` times in a rolled-back transaction. CPU time of this process (``process_time``):
on PostgreSQL the server's work is not counted. Not a test (no ``test_`` prefix).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.notifier import repository as repo
from services.notifier.config import NotifierSettings
from services.notifier.migrations import SCHEMA as NOTIFIER_SCHEMA
from services.notifier.service import threads
from services.notifier.service.mailer import NotifierContext
from shared.platform.db import make_engine, unit_of_work
from shared.platform.migrations import upgrade
from tests.notifier.bench_thread import realistic_event

BATCH = 64


def due_query_ms(engine, rounds: int) -> float:
    now = datetime.now(UTC) + timedelta(seconds=1)
    # getattr: the script also runs on revisions before the window (where "window" is ignored).
    params = {"now": now, "limit": BATCH, "window": BATCH * getattr(repo, "LEASE_WINDOW_FACTOR", 4)}
    started = time.process_time()
    for _ in range(rounds):
        with engine.connect() as conn:
            conn.execute(repo._DUE, params).all()
            conn.rollback()
    return (time.process_time() - started) / rounds * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backlogs", default="100,1000,4000,10000", help="pending copies, increasing")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--postgres", action="store_true", help="a fresh database on the test PostgreSQL")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp())
    url, drop = f"sqlite:///{tmp}/bench.db", None
    if args.postgres:
        from tests.support.servers import create_postgres_database, postgres_admin_url
        url, drop = create_postgres_database(postgres_admin_url())
    settings = NotifierSettings(env="test", var_dir=tmp, database_url=url, notifier_url="http://notifier.test")
    engine = make_engine(url)
    upgrade(NOTIFIER_SCHEMA, engine)
    ctx = NotifierContext(settings=settings, clock=lambda: datetime.now(UTC))
    queued = 0
    try:
        for backlog in (int(b) for b in args.backlogs.split(",")):
            while queued * 4 < backlog:
                with unit_of_work(engine) as session:
                    threads.start_thread(session, ctx, realistic_event())
                queued += 1
            print(f"pending copies {queued * 4:6d}: due query {due_query_ms(engine, args.rounds):.2f} ms CPU "
                  f"(batch {BATCH}, {engine.dialect.name})", flush=True)
    finally:
        engine.dispose()
        if drop is not None:
            drop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
