"""Resident memory (RSS, from /proc/<pid>/status) of each service at idle and under load.

    .venv/bin/python -m bench.memory [--rate 50] [--duration 30] [--postgres] [--smoke]

The whole system runs as real processes with the real catalog, its databases migrated beforehand by
``monlyceepro migrate`` as in production (a service then only checks its schema at start-up). RSS is read at idle (after
start-up and a short warm-up, then 5 s of quiet), every 0.5 s during an open-loop load of
``--rate`` requests/s for ``--duration`` s (peak reported), and again once the pipeline has
drained. ``--smoke``: 2 s at 5/s, nothing written.

Before the system starts, each service's imported stack alone is measured the same way: a fresh
interpreter imports what ``monlyceepro serve NAME`` imports before it builds the app (the CLI, uvicorn's
server modules, ``services.NAME.app``) and nothing else runs; the difference with the idle figure is the
service's data and what it built at start-up.

Then (``--layout-rounds``, default 2) the whole system at rest in its two layouts on one machine, alternated:
four ``serve`` processes, and ``serve-all`` as ``monlyceepro up`` runs it (``bench/memory_layouts.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import memory_layouts
from bench.load import drive
from bench.pipeline import (
    Pipeline,
    Sampler,
    peak_rss_mib,
    proc_rss_kib,
    usable_targets,
    wait_delivered,
)
from bench.report import write_section

ORDER = ("intake", "catalog", "matcher", "notifier")

# What ``monlyceepro serve NAME`` has imported when uvicorn calls the app factory (services/cli.py: serve).
IMPORT_ONLY = """
import importlib, sys
import services.cli
import uvicorn, uvicorn.lifespan.on, uvicorn.loops.auto, uvicorn.protocols.http.auto
importlib.import_module(f"services.{sys.argv[1]}.app")
rss = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS:"))
private = sum(int(line.split()[1]) for line in open("/proc/self/smaps_rollup") if line.startswith(("Private_Clean", "Private_Dirty")))
print(rss / 1024, private / 1024, len(sys.modules))
"""


def imported_stack(name: str) -> tuple[float, float, int]:
    """RSS and private MiB, and module count, of a fresh interpreter that only imports what serving ``name`` does."""
    out = subprocess.run([sys.executable, "-c", IMPORT_ONLY, name], cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True,
                         check=True).stdout.split()
    return float(out[0]), float(out[1]), int(out[2])


def private_mib(pid: int) -> float:
    """Memory only this process holds (USS: private clean + dirty pages, /proc/<pid>/smaps_rollup). RSS
    also counts the shared libraries' pages once per process; summed over four Python processes, it
    counts the same libpython and extension modules four times."""
    try:
        fields = memory_layouts.rollup(pid)
    except OSError:
        return 0.0
    return (fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)) / 1024


def private_now(pipeline: Pipeline) -> dict[str, float]:
    return {name: private_mib(pid) for name, pid in pipeline.pids().items()}


def rss_now(pipeline: Pipeline) -> dict[str, float]:
    out = {name: proc_rss_kib(pid) / 1024 for name, pid in pipeline.pids().items()}
    if pipeline.redis_server.proc:
        out["redis-server"] = proc_rss_kib(pipeline.redis_server.proc.pid) / 1024
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--layout-rounds", type=int, default=2, help="alternations of the two layouts (0: none)")
    parser.add_argument("--settle", type=float, default=10.0, help="rest after start-up before a layout is measured (s)")
    args = parser.parse_args(argv)
    rate, duration = (5.0, 2.0) if args.smoke else (args.rate, args.duration)
    variant = "PostgreSQL" if args.postgres else "SQLite"

    stack = {name: imported_stack(name) for name in ORDER}
    with tempfile.TemporaryDirectory(prefix="mlp-bench-mem-") as tmp:
        pipeline = Pipeline(Path(tmp), postgres=args.postgres, log_level=args.log_level, migrate_first=True)
        try:
            pipeline.start()
            targets = usable_targets(pipeline)
            warm = asyncio.run(drive(pipeline.url("intake"), 5, 1, targets))
            wait_delivered(pipeline, [warm], 60)
            time.sleep(1 if args.smoke else 5)
            idle, idle_private = rss_now(pipeline), private_now(pipeline)
            sampler = Sampler(pipeline, interval=0.5)
            sampler.start()
            run = asyncio.run(drive(pipeline.url("intake"), rate, duration, targets))
            drained = wait_delivered(pipeline, [run], 30 if args.smoke else 300)
            samples = sampler.stop()
            peak = peak_rss_mib(samples, run.started_ns, time.monotonic_ns())
            time.sleep(1 if args.smoke else 5)
            after = rss_now(pipeline)
            requests = len(run.accepted)
        finally:
            pipeline.stop()

    lines = [f"| process | imports only: RSS / private (MiB) | idle RSS (MiB) | idle private (MiB) "
             f"| peak RSS under {rate:g} req/s (MiB) | RSS after drain (MiB) |", "|---|---:|---:|---:|---:|---:|"]
    for name in (*ORDER, "redis-server"):
        under = f"{peak[name]:.0f}" if name in peak else "—"
        own = f"{idle_private[name]:.0f}" if name in idle_private else "—"
        bare = f"{stack[name][0]:.0f} / {stack[name][1]:.0f}" if name in stack else "—"
        lines.append(f"| {name} | {bare} | {idle.get(name, 0):.0f} | {own} | {under} | {after.get(name, 0):.0f} |")
    total = [sum(d.get(n, 0) for n in ORDER) for d in (idle, idle_private, peak, after)]
    bare_total = f"**{sum(s[0] for s in stack.values()):.0f} / {sum(s[1] for s in stack.values()):.0f}**"
    lines.append(f"| **four services** | {bare_total} | " + " | ".join(f"**{t:.0f}**" for t in total) + " |")
    table = "\n".join(lines)
    print(f"{requests} requests accepted, drained: {drained}\n\n{table}")
    rounds = 1 if args.smoke else args.layout_rounds
    layouts = memory_layouts.measure(rounds, 1.0 if args.smoke else args.settle) if rounds else []
    if layouts:
        layout_table = memory_layouts.table(layouts)
        print(f"\nThe whole system at rest, by layout:\n\n{layout_table}")
        table += ("\n\nThe whole system at rest in its two layouts on one machine, alternated in this run "
                  f"(`bench/memory_layouts.py`; SQLite, real catalog, {args.settle:g} s of rest after every service is "
                  "ready, no request): four `monlyceepro serve NAME` processes, or `monlyceepro serve-all` as "
                  "`monlyceepro up` runs it (one launcher imports the common stack, forks the four services, then "
                  "execs a small watcher, counted here). PSS divides each shared page among the processes sharing "
                  "it: summed, it counts every page once, the system's memory; summed RSS counts a shared page once per "
                  "process.\n\n" + layout_table)
    if args.smoke or args.no_write:
        return 0 if requests and drained else 1
    notes = (f"{variant}; real catalog; databases migrated before the services start (as in production); open-loop load of {rate:g} req/s for {duration:g} s ({requests} requests, "
             f"drained: {'yes' if drained else 'no'}). RSS from /proc/<pid>/status (VmRSS); private = pages no other "
             "process shares (Private_Clean + Private_Dirty of /proc/<pid>/smaps_rollup); peak = highest "
             "0.5 s sample from the start of the load to the end of the drain (redis-server not sampled "
             "under load). Imports only: a fresh interpreter that imports what `monlyceepro serve NAME` imports "
             "before it builds the app, and nothing else (module count: "
             + ", ".join(f"{name} {stack[name][2]}" for name in ORDER) + ").\n\n")
    write_section("memory" + ("_postgres" if args.postgres else ""), f"Resident memory per service ({variant})",
                  notes + table,
                  command=".venv/bin/python -m bench.memory " + " ".join(sys.argv[1:] if argv is None else argv))
    return 0 if drained else 1


if __name__ == "__main__":
    sys.exit(main())
