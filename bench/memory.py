"""Resident memory (RSS, from /proc/<pid>/status) of each service at idle and under load.

    .venv/bin/python -m bench.memory [--rate 50] [--duration 30] [--postgres] [--smoke]

The whole system runs as real processes with the real catalog. RSS is read at idle (after
start-up and a short warm-up, then 5 s of quiet), every 0.5 s during an open-loop load of
``--rate`` requests/s for ``--duration`` s (peak reported), and again once the pipeline has
drained. ``--smoke``: 2 s at 5/s, nothing written.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from bench.pipeline import (
    Pipeline,
    Sampler,
    drive,
    peak_rss_mib,
    proc_rss_kib,
    usable_targets,
    wait_delivered,
)
from bench.report import write_section

ORDER = ("intake", "catalog", "matcher", "notifier")


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
    args = parser.parse_args(argv)
    rate, duration = (5.0, 2.0) if args.smoke else (args.rate, args.duration)
    variant = "PostgreSQL" if args.postgres else "SQLite"

    with tempfile.TemporaryDirectory(prefix="mlp-bench-mem-") as tmp:
        pipeline = Pipeline(Path(tmp), postgres=args.postgres, log_level=args.log_level)
        try:
            pipeline.start()
            targets = usable_targets(pipeline)
            warm = asyncio.run(drive(pipeline.url("intake"), 5, 1, targets))
            wait_delivered(pipeline, [warm], 60)
            time.sleep(1 if args.smoke else 5)
            idle = rss_now(pipeline)
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

    lines = [f"| process | idle (MiB) | peak under {rate:g} req/s (MiB) | after drain (MiB) |",
             "|---|---:|---:|---:|"]
    for name in (*ORDER, "redis-server"):
        under = f"{peak[name]:.0f}" if name in peak else "—"
        lines.append(f"| {name} | {idle.get(name, 0):.0f} | {under} | {after.get(name, 0):.0f} |")
    total = sum(idle.get(n, 0) for n in ORDER), sum(peak.get(n, 0) for n in ORDER), sum(after.get(n, 0) for n in ORDER)
    lines.append(f"| **four services** | **{total[0]:.0f}** | **{total[1]:.0f}** | **{total[2]:.0f}** |")
    table = "\n".join(lines)
    print(f"{requests} requests accepted, drained: {drained}\n\n{table}")
    if args.smoke or args.no_write:
        return 0 if requests and drained else 1
    notes = (f"{variant}; real catalog; open-loop load of {rate:g} req/s for {duration:g} s ({requests} requests, "
             f"drained: {'yes' if drained else 'no'}). RSS from /proc/<pid>/status (VmRSS); peak = highest "
             "0.5 s sample from the start of the load to the end of the drain (redis-server not sampled "
             "under load).\n\n")
    write_section("memory" + ("_postgres" if args.postgres else ""), f"Resident memory per service ({variant})",
                  notes + table,
                  command=".venv/bin/python -m bench.memory " + " ".join(sys.argv[1:] if argv is None else argv))
    return 0 if drained else 1


if __name__ == "__main__":
    sys.exit(main())
