"""Measure the notifier's sender: time to send N queued copies to a real aiosmtpd sink on loopback.

    .venv/bin/python -m tests.notifier.bench_sender --copies 1000            # current sender
    .venv/bin/python -m tests.notifier.bench_sender --copies 1000 --rev 63f0ae5  # sender.py of a git revision

Rows are queued by the real domain code (start_thread: lead, copy, company acknowledgement per
request) on a fresh SQLite file (or ``--database-url``), then the sender drains them; the figure
is wall time of the drain only (composition excluded). Not a test (no ``test_`` prefix).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from services.notifier.config import NotifierSettings
from services.notifier.models import TABLES
from services.notifier.service import threads
from services.notifier.service.mailer import NotifierContext
from shared.db import create_tables, make_engine, unit_of_work
from shared.outbox import BACKBONE_TABLES
from tests.notifier.support import SmtpSink, routed_event
from tests.support.servers import free_port


def _sender_class(rev: str | None):
    if rev is None:
        from services.notifier.sender import OutboundSender
        return OutboundSender
    source = subprocess.run(["git", "show", f"{rev}:services/notifier/sender.py"], check=True,
                            capture_output=True).stdout
    path = Path(tempfile.mkdtemp()) / "sender_at_rev.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("sender_at_rev", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.OutboundSender


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=1000)
    parser.add_argument("--rev", default=None, help="git revision whose sender.py is measured")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--postgres", action="store_true", help="a fresh database on the test PostgreSQL")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp())
    url, drop = args.database_url or f"sqlite:///{tmp}/bench.db", None
    if args.postgres:
        from tests.support.servers import create_postgres_database, postgres_admin_url
        url, drop = create_postgres_database(postgres_admin_url())
    sink = SmtpSink(free_port()).start()
    settings = NotifierSettings(env="test", smtp_url=sink.url, inbound_smtp_port=free_port(), var_dir=tmp,
                                database_url=url, notifier_url="http://notifier.test")
    engine = make_engine(url)
    create_tables(engine, [*BACKBONE_TABLES, *TABLES])
    ctx = NotifierContext(settings=settings, clock=lambda: datetime.now(UTC))
    requests = -(-args.copies // 3)
    events = [routed_event() for _ in range(requests)]
    started = time.perf_counter()
    for event in events:  # one transaction per event, as the stream handler does
        with unit_of_work(engine) as session:
            threads.start_thread(session, ctx, event)
    queued = time.perf_counter() - started
    total = requests * 3
    sender = _sender_class(args.rev)(engine, settings)

    async def drain() -> float:
        started = time.perf_counter()
        while await sender.send_due():
            pass
        elapsed = time.perf_counter() - started
        if hasattr(sender, "close"):
            await sender.close()
        return elapsed

    elapsed = asyncio.run(drain())
    received = len(sink.wait_for(total, timeout=10))
    sink.stop()
    engine.dispose()
    if drop is not None:
        drop()
    label = args.rev or "working tree"
    print(f"sender={label} db={engine.dialect.name} copies={total} received={received} "
          f"queue={queued:.2f}s ({requests / queued:.0f} requests/s) drain={elapsed:.2f}s "
          f"rate={total / elapsed:.0f} emails/s")
    return 0 if received == total else 1


if __name__ == "__main__":
    sys.exit(main())
