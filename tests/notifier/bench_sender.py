"""CPU cost of the notifier's sender per email, end to end (lease, SMTP, record, log line), against
a real aiosmtpd sink running in ANOTHER process: only the sender's process CPU is counted.

    .venv/bin/python -m tests.notifier.bench_sender                  # working tree, uvloop, PIPELINING advertised
    .venv/bin/python -m tests.notifier.bench_sender --rev 12a9a1a    # sender.py of a git revision
    .venv/bin/python -m tests.notifier.bench_sender --no-pipelining  # the sink does not advertise it (aiosmtpd's default)
    .venv/bin/python -m tests.notifier.bench_sender --loop asyncio --postgres --profile

The sender runs its real loop (``run``). Two shapes: ``pass`` — one request (3 RBEs + the
company, queued by the real ``start_thread``), then the wake-up its commit sends, as in steady
state; ``backlog`` — 64 emails queued (``MLP_SEND_BATCH_SIZE``), then one wake-up.
``time.process_time()`` runs from the wake-up until the loop is about to sleep again (the
sender's database thread included), not during the queueing. The default loop is uvloop
because uvicorn picks it when installed, as it is in production. Postfix advertises PIPELINING,
so the sink does too unless ``--no-pipelining``. Not a test (no ``test_`` prefix).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from services.notifier.config import NotifierSettings
from services.notifier.migrations import SCHEMA as NOTIFIER_SCHEMA
from services.notifier.service import threads
from services.notifier.service.mailer import NotifierContext
from shared.platform.db import make_engine, unit_of_work
from shared.platform.logging import configure_logging
from shared.platform.migrations import upgrade
from tests.notifier.bench_thread import realistic_event
from tests.support.servers import free_port


# ------------------------------------------------------------------ the sink (its own process)
class _CountingHandler:
    def __init__(self, pipelining: bool) -> None:
        self.pipelining = pipelining
        self.count = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802 - aiosmtpd API
        session.host_name = hostname
        if self.pipelining:  # aiosmtpd reads commands line by line, so it accepts pipelined ones
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.count += 1
        return "250 OK"


def serve_sink(port: int, pipelining: bool, line_by_line: bool) -> None:
    """Print ``ready``, then answer each line read on stdin with the number of messages received
    and the sink's CPU seconds so far. The server is the one ``monlyceepro up`` runs
    (``services.mailsink.SinkController``), or aiosmtpd's own with ``line_by_line``."""
    from aiosmtpd.controller import Controller

    from services.mailsink import SinkController

    handler = _CountingHandler(pipelining)
    controller = (Controller if line_by_line else SinkController)(handler, hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    for _ in sys.stdin:
        print(handler.count, time.process_time(), flush=True)
    controller.stop()


class SinkProcess:
    def __init__(self, pipelining: bool, line_by_line: bool = False) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.notifier.bench_sender", "--sink", str(self.port)]
            + ([] if pipelining else ["--no-pipelining"]) + (["--sink-line-by-line"] if line_by_line else []),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"
        self.cpu = 0.0  # the sink's CPU seconds at the last ``received``

    def received(self) -> int:
        self.proc.stdin.write("?\n")
        self.proc.stdin.flush()
        count, cpu = self.proc.stdout.readline().split()
        self.cpu = float(cpu)
        return int(count)

    def stop(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(10)


# ------------------------------------------------------------------ the measured sender
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
    sys.modules[spec.name] = module  # type: ignore[union-attr]  # dataclasses look their module up
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.OutboundSender


def _queue(engine, ctx: NotifierContext, requests: int) -> None:
    for _ in range(requests):  # one transaction per event, as the stream handler does
        with unit_of_work(engine) as session:
            threads.start_thread(session, ctx, realistic_event())


class _WatchedEvent(asyncio.Event):
    """The sender's wake event: waiting on it means the loop is about to sleep."""

    def __init__(self, idle: asyncio.Event) -> None:
        super().__init__()
        self.idle = idle

    async def wait(self):
        self.idle.set()
        return await super().wait()


class Driver:
    """Runs the sender's real loop (``run``) and tells when it is about to sleep again: what a
    wake-up costs in production includes what the loop does around the pass (another pass or
    the next-retry query before sleeping)."""

    def __init__(self, sender, sink: SinkProcess) -> None:
        self.sender, self.sink, self.idle, self.sent = sender, sink, asyncio.Event(), 0
        sender.wake_event = _WatchedEvent(self.idle)

    async def measure(self, engine, ctx: NotifierContext, requests: int,
                      rounds: int) -> tuple[float, int, float, float]:
        """CPU ms per email over ``rounds`` wake-ups, each after queueing ``requests`` requests;
        emails sent, wall seconds, the sink's CPU ms per email."""
        cpu, wall, sink_before = 0.0, 0.0, self.sink.cpu
        for _ in range(rounds):
            await asyncio.to_thread(_queue, engine, ctx, requests)
            self.idle.clear()
            started, started_wall = time.process_time(), time.perf_counter()
            self.sender.wake()  # what the stream handler's after-commit hook does
            await self.idle.wait()
            cpu += time.process_time() - started
            wall += time.perf_counter() - started_wall
            self.sent += requests * 4
            assert await asyncio.to_thread(self.sink.received) == self.sent, "an email is missing"
        emails = rounds * requests * 4
        return cpu / emails * 1000, emails, wall, (self.sink.cpu - sink_before) / emails * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passes", type=int, default=60, help="one-request passes per round")
    parser.add_argument("--backlogs", type=int, default=4, help="64-email passes per round")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds: best and median are shown")
    parser.add_argument("--pass-requests", type=int, default=1, help="requests queued before each wake-up of 'pass'")
    parser.add_argument("--rev", default=None, help="git revision whose sender.py is measured")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument("--no-pipelining", action="store_true", help="the sink does not advertise PIPELINING")
    parser.add_argument("--sink-line-by-line", action="store_true",
                        help="the sink is aiosmtpd's own server (DATA read line by line), not the one `up` runs")
    parser.add_argument("--postgres", action="store_true", help="a fresh database on the test PostgreSQL")
    parser.add_argument("--profile", action="store_true", help="pyinstrument profile of the measured passes")
    parser.add_argument("--sink", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sink is not None:
        serve_sink(args.sink, not args.no_pipelining, args.sink_line_by_line)
        return 0
    configure_logging("notifier")  # the JSON lines the service writes, to /dev/null: their CPU counts
    sys.stdout = open("/dev/null", "w")  # noqa: SIM115 - structlog's PrintLogger writes to sys.stdout
    report = sys.__stdout__
    logging.getLogger().setLevel(logging.ERROR)
    tmp = Path(tempfile.mkdtemp())
    url, drop = f"sqlite:///{tmp}/bench.db", None
    if args.postgres:  # the client's CPU only: the server's is not counted
        from tests.support.servers import create_postgres_database, postgres_admin_url
        url, drop = create_postgres_database(postgres_admin_url())
    sink = SinkProcess(pipelining=not args.no_pipelining, line_by_line=args.sink_line_by_line)
    settings = NotifierSettings(env="test", smtp_url=f"smtp://127.0.0.1:{sink.port}", inbound_smtp_port=free_port(),
                                var_dir=tmp, database_url=url, notifier_url="http://notifier.test")
    engine = make_engine(url)
    upgrade(NOTIFIER_SCHEMA, engine)
    ctx = NotifierContext(settings=settings, clock=lambda: datetime.now(UTC))
    sender = _sender_class(args.rev)(engine, settings)
    backlog = settings.send_batch_size // 4  # requests of 4 emails
    profiler = None

    async def scenario() -> dict[str, list[tuple[float, int, float, float]]]:
        nonlocal profiler
        driver = Driver(sender, sink)
        task = asyncio.create_task(sender.run())
        await driver.idle.wait()
        measure = driver.measure
        await measure(engine, ctx, 1, 20)  # warm-up: connections, compiled statements
        await measure(engine, ctx, backlog, 2)
        if args.profile:
            from pyinstrument import Profiler
            profiler = Profiler(interval=0.0002, async_mode="disabled")
            profiler.start()
        figures: dict[str, list[tuple[float, int, float, float]]] = {"pass": [], "backlog": []}
        for _ in range(args.rounds):
            figures["pass"].append(await measure(engine, ctx, args.pass_requests, args.passes))
            figures["backlog"].append(await measure(engine, ctx, backlog, args.backlogs))
        if profiler is not None:
            profiler.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)  # run() closes its connections
        return figures

    if args.loop == "uvloop":
        import uvloop
        figures = uvloop.run(scenario())
    else:
        figures = asyncio.run(scenario())
    sent = sum(emails for rounds in figures.values() for _, emails, _, _ in rounds) + 20 * 4 + 2 * backlog * 4
    received = sink.received()
    sink.stop()
    engine.dispose()
    if drop is not None:
        drop()
    if profiler is not None:
        print(profiler.output_text(unicode=False, color=False, show_all=False), file=report)
    label = args.rev or "working tree"
    print(f"sender={label} loop={args.loop} db={engine.dialect.name} pipelining="
          f"{'no' if args.no_pipelining else 'advertised'} sink={'aiosmtpd' if args.sink_line_by_line else 'up'}",
          file=report)
    for shape, rounds in figures.items():
        what = f"{args.pass_requests * 4 if shape == 'pass' else backlog * 4} emails per wake-up"
        cpu = sorted(ms for ms, _, _, _ in rounds)
        wall = sorted(seconds / emails * 1000 for _, emails, seconds, _ in rounds)
        sink_cpu = sorted(ms for _, _, _, ms in rounds)
        print(f"  {shape:7}: {cpu[0]:.3f} ms CPU/email best, {statistics.median(cpu):.3f} median of {len(rounds)} "
              f"rounds of {rounds[0][1]} emails ({what}); wall {statistics.median(wall):.2f} ms/email median; "
              f"sink {sink_cpu[0]:.3f} best, {statistics.median(sink_cpu):.3f} median ms CPU/email", file=report)
    print(f"  received by the sink: {received} of {sent}", file=report)
    return 0 if received == sent else 1


if __name__ == "__main__":
    sys.exit(main())
