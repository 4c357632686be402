"""CPU per request of every process on the machine, at fixed open-loop rates: where the cores go.

    .venv/bin/python -m bench.cpu_split --rates 20,60,100 [--duration 10] [--postgres]
    .venv/bin/python -m bench.cpu_split --rates 100 --intake-only     # matcher and notifier paused
    .venv/bin/python -m bench.cpu_split --rates 100 --intake-only --env MLP_RELAY_ENABLED=false
    .venv/bin/python -m bench.cpu_split --bare                        # a bare FastAPI endpoint alone

The whole system runs as real processes (``bench.pipeline``). For each rate, user + system CPU of
each service, Redis, the SMTP sink, the load generator (this process) and, with ``--postgres``,
every PostgreSQL server process, divided by the requests accepted; the pipeline is drained between
rates. ``--intake-only`` pauses the matcher and the notifier (SIGSTOP) so intake's own cost per
request (HTTP, accept, relay) shows alone. ``--bare``: the same drive against the bare endpoint of
``bench.intake_throughput``. Prints only: the figures quoted in docs/benchmarks.md name this
command. ``--smoke``: one short rate.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.pipeline import Pipeline, drive, exit_on_sigterm, proc_cpu_s, usable_targets, wait_delivered
from bench.report import machine
from tests.support.servers import free_port


def postgres_pids() -> list[int]:
    found = subprocess.run(["pgrep", "-f", "^postgres"], capture_output=True, text=True).stdout.split()
    return [int(pid) for pid in found]


def cpu_of(pids: dict[str, list[int]]) -> dict[str, float]:
    return {name: sum(proc_cpu_s(pid) for pid in group) for name, group in pids.items()}


def measure(url: str, rate: float, duration: float, targets, pids: dict[str, list[int]]):
    """CPU from the first request to one second after the last (its logging and metrics): work
    still queued downstream then is counted at the next rate, so rates go from low to high."""
    before, started = cpu_of(pids), time.monotonic()
    run = asyncio.run(drive(url, rate, duration, targets))
    time.sleep(1)
    after, wall = cpu_of(pids), time.monotonic() - started
    accepted = max(1, len(run.accepted))
    return run, wall, {name: (after[name] - before[name]) / accepted * 1000 for name in pids}


def print_row(rate: float, accepted: int, per_request: dict[str, float], wall: float) -> None:
    total = sum(per_request.values())
    cores = total * accepted / 1000 / wall
    parts = "  ".join(f"{name} {ms:.2f}" for name, ms in per_request.items())
    print(f"{rate:g} req/s ({accepted} accepted): ms of CPU per request: {parts}  | all {total:.1f} "
          f"({cores:.2f} cores)", flush=True)


def run_bare(rate: float, duration: float) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "bench.intake_throughput:bare_app", "--port", str(port),
                             "--log-level", "warning", "--no-access-log"])
    try:
        for _ in range(300):
            try:
                httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        run, wall, per_request = measure(f"http://127.0.0.1:{port}", rate, duration, [("69123", "Boulanger")],
                                         {"bare endpoint": [proc.pid]})
        print_row(rate, len(run.accepted), per_request, wall)
    finally:
        proc.terminate()
        proc.wait(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="20,60,100")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--intake-only", action="store_true", help="matcher and notifier paused")
    parser.add_argument("--bare", action="store_true", help="a bare FastAPI endpoint instead of the system")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting for every service (e.g. MLP_RELAY_ENABLED=false)")
    parser.add_argument("--log-level", default="INFO", help="the services' log level")
    parser.add_argument("--smoke", action="store_true", help="one short rate (CI)")
    args = parser.parse_args(argv)
    rates = [5.0] if args.smoke else [float(r) for r in args.rates.split(",")]
    duration = 2.0 if args.smoke else args.duration
    print(machine(), flush=True)
    if args.bare:
        for rate in rates:
            run_bare(rate, duration)
        return 0
    exit_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="mlp-bench-cpu-") as tmp:
        extra_env = dict(item.split("=", 1) for item in args.env)
        pipeline = Pipeline(Path(tmp), postgres=args.postgres, extra_env=extra_env,
                            log_level=args.log_level)
        paused: list[int] = []
        try:
            pipeline.start()
            targets = usable_targets(pipeline)
            warmup = asyncio.run(drive(pipeline.url("intake"), 5, 3, targets))
            wait_delivered(pipeline, [warmup], 60)
            pids = {name: [pid] for name, pid in {**pipeline.pids(), **pipeline.support_pids()}.items()}
            if args.postgres:
                pids["postgres"] = postgres_pids()
            if args.intake_only:
                paused = [pipeline.pids()["matcher"], pipeline.pids()["notifier"]]
                for pid in paused:
                    os.kill(pid, signal.SIGSTOP)
            for rate in rates:
                run, wall, per_request = measure(pipeline.url("intake"), rate, duration, targets, pids)
                print_row(rate, len(run.accepted), per_request, wall)
                if not paused:  # the next rate starts on a drained pipeline
                    wait_delivered(pipeline, [run], max(60.0, duration * 6))
        finally:
            for pid in paused:
                os.kill(pid, signal.SIGCONT)
            pipeline.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
