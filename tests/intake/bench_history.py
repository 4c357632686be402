"""CPU cost of intake's per-request paths as the stored history grows, and what the purge changes.

    .venv/bin/python -m tests.intake.bench_history [--sizes 1000,20000,100000] [--calls 200] [--postgres]

The history is built with the real accept path (batches of 100 requests in one transaction, as
the group commit writes them); its outbox rows are then marked published 30 days ago, which is
what the relay and time leave behind. At each size:

* ``accept``: ``IntakeContext.accept_sync`` of one new body, its own transaction;
* ``erase``: a company's erasure (``retention.erase`` in a unit of work, as ``DELETE /suivi``
  runs it), which looks through the outbox for published copies of the request's data;
* last, at the largest size, ``erase`` again once ``shared.platform.housekeeping.purge_backbone`` (default
  keep days) has run.

Per call: CPU of this process (``time.process_time``) and wall time, which alone includes the
PostgreSQL server's work (run it on a quiet machine). Not a test (no
``test_`` prefix); ``tests/bench/test_bench_smoke.py`` runs it with tiny counts.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, update
from sqlmodel import Session

from services.intake.deps import Accepting, IntakeContext
from services.intake.models import CompanyRequest
from services.intake.service.retention import erase
from shared.platform.clock import utcnow
from shared.platform.db import unit_of_work
from shared.platform.housekeeping import purge_backbone
from shared.platform.outbox import OutboxEvent
from tests.intake.bench_handlers import bench_context
from tests.intake.support import body
from tests.support.cpu_bench import bench_database

POSTAL_CODES = ["69007", "75011", "13001", "33000", "59000", "31000", "44000", "67000", "35000", "06000"]
_OUTBOX = OutboxEvent.__table__  # type: ignore[attr-defined]


class History:
    def __init__(self, ctx: IntakeContext) -> None:
        self.ctx = ctx
        self.count = 0
        self.ids: list[str] = []

    def body(self) -> dict:
        i = self.count
        self.count += 1
        return body(contact__email=f"contact{i}@entreprise{i % 97}.fr",
                    location={"postal_code": POSTAL_CODES[i % len(POSTAL_CODES)]})

    def grow_to(self, size: int) -> None:
        while len(self.ids) < size:
            items = [Accepting(self.ctx.qualify(self.body()), "api", f"h{self.count}")
                     for _ in range(min(100, size - len(self.ids)))]
            self.ids += [s.request_id for s in self.ctx.accept_batch_sync(items)]  # type: ignore[union-attr]
        with self.ctx.runtime.engine.begin() as conn:  # published long ago, as the relay left them
            conn.execute(update(_OUTBOX).where(_OUTBOX.c.published_at.is_(None))
                         .values(published_at=utcnow() - timedelta(days=30)))


def per_call(fn, calls: int) -> str:
    """CPU of this process and wall time per call: on PostgreSQL the server's work shows only in the latter."""
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        fn()
    return (f"{(time.process_time() - cpu) / calls * 1000:.2f} ms CPU "
            f"({(time.perf_counter() - wall) / calls * 1000:.2f} ms wall)")


def erase_one(engine, ids: list[str]) -> None:
    with unit_of_work(engine) as session:
        erase(session, session.get(CompanyRequest, ids.pop()), "company_request", "bench")


def outbox_rows(engine) -> int:
    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(_OUTBOX)).scalar_one()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,20000,100000", help="requests stored, increasing")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--postgres", action="store_true", help="a fresh database on the test PostgreSQL")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp())
    url, drop = bench_database(args, tmp, "intake")
    ctx = bench_context(url, tmp)
    engine, settings = ctx.runtime.engine, ctx.settings
    history = History(ctx)
    print(f"db={engine.dialect.name} calls={args.calls} (per call)", flush=True)
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            history.grow_to(size)
            victims = random.Random(size).sample(history.ids, args.calls)
            erased = set(victims)
            history.ids = [i for i in history.ids if i not in erased]
            rows = outbox_rows(engine)
            accept = per_call(lambda: ctx.accept_sync(history.body(), "api", "bench"), args.calls)
            erase_one_ = per_call(lambda v=victims: erase_one(engine, v), args.calls)
            print(f"history {size:>7} requests ({rows} outbox rows): accept {accept}, erase {erase_one_}", flush=True)
        purge_backbone(engine, "intake", outbox_keep_days=settings.outbox_keep_days,
                       processed_keep_days=settings.processed_keep_days)
        victims = random.Random(0).sample(history.ids, args.calls)
        rows = outbox_rows(engine)
        print(f"after the purge ({rows} outbox rows left): erase {per_call(lambda: erase_one(engine, victims), args.calls)}",
              flush=True)
    finally:
        engine.dispose()
        if drop is not None:
            drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
