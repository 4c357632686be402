"""End-to-end latency: time from intake's ``202`` to the lead RBE's email accepted by the SMTP
sink, at steady request rates, on the whole system run as real processes.

    .venv/bin/python -m bench.e2e_latency [--rates 10,50,100,200] [--duration 20] [--postgres] [--smoke]

Open-loop load (request i leaves at start + i/rate whatever the answers' delays), each rate for
``--duration`` seconds, the pipeline drained between rates. ``--smoke``: a few seconds at 5/s,
figures printed, nothing written. Otherwise the figures go to docs/benchmarks.md (section
``e2e_latency`` or ``e2e_latency_postgres``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.load import COMPANY_RE, LoadRun, ceiling_note, drive, generator_ceiling, lead_latencies_ms
from bench.pipeline import (
    Pipeline,
    Sampler,
    cpu_share,
    fmt_ms,
    usable_targets,
    wait_delivered,
)
from bench.report import percentile, write_section

TARGET_P95_MS = 300  # at TARGET_RATE (issue 18)
TARGET_RATE = 100


def measure(pipeline: Pipeline, rate: float, duration: float, targets, drain_timeout: float) -> dict:
    sampler = Sampler(pipeline)
    sampler.start()
    run: LoadRun = asyncio.run(drive(pipeline.url("intake"), rate, duration, targets))
    end_load = time.monotonic_ns()
    drained = wait_delivered(pipeline, [run], drain_timeout)
    samples = sampler.stop()
    time.sleep(0.5)
    pipeline.sink.poll()
    latencies, missing = lead_latencies_ms(run, pipeline.sink.records, pipeline.leads())
    companies = {s.company for s in run.accepted}
    emails = sum(1 for _, _, subject in pipeline.sink.records
                 if (m := COMPANY_RE.search(subject)) and m.group(0) in companies)
    intake_ms = [(s.accepted_ns - s.scheduled_ns) / 1e6 for s in run.accepted if s.accepted_ns]
    span_s = (max(s.accepted_ns for s in run.accepted) - run.started_ns) / 1e9 if run.accepted else float("nan")
    return {
        "rate": rate, "sent": len(run.submissions), "accepted": len(run.accepted),
        "errors": len(run.submissions) - len(run.accepted), "delivered": len(latencies), "missing": missing,
        "emails_per_request": emails / len(run.accepted) if run.accepted else 0.0,
        "drained": drained, "achieved_rate": len(run.accepted) / span_s if span_s else float("nan"),
        "p50": percentile(latencies, 50), "p95": percentile(latencies, 95), "p99": percentile(latencies, 99),
        "max": max(latencies) if latencies else float("nan"),
        "intake_p50": percentile(intake_ms, 50), "intake_p95": percentile(intake_ms, 95),
        "cpu": cpu_share(samples, run.started_ns, end_load),
    }


def table(rows: list[dict]) -> str:
    out = ["| rate (req/s) | sent | 202 | lead emails | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) "
           "| 202 p50 / p95 (ms) | CPU during load (cores): intake / matcher / notifier / catalog |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        cpu = r["cpu"]
        cpu_txt = " / ".join(f"{cpu.get(n, float('nan')):.2f}" for n in ("intake", "matcher", "notifier", "catalog"))
        delivered = f"{r['delivered']}" + ("" if r["drained"] else " (drain timed out: percentiles cover only those)")
        out.append(f"| {r['rate']:g} | {r['sent']} | {r['accepted']} | {delivered} | {fmt_ms(r['p50'])} "
                   f"| {fmt_ms(r['p95'])} | {fmt_ms(r['p99'])} | {fmt_ms(r['max'])} "
                   f"| {fmt_ms(r['intake_p50'])} / {fmt_ms(r['intake_p95'])} | {cpu_txt} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="10,50,100,200")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load per rate")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL on 127.0.0.1:5432 instead of SQLite")
    parser.add_argument("--drain-timeout", type=float, default=180.0, help="seconds to wait for the last emails")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--smoke", action="store_true", help="a few seconds, tiny volume, nothing written")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    rates = [5.0] if args.smoke else [float(r) for r in args.rates.split(",")]
    duration = 2.0 if args.smoke else args.duration
    variant = ("PostgreSQL" if args.postgres else "SQLite")

    ceiling = generator_ceiling(duration_s=1 if args.smoke else 3)
    print(f"load generator's ceiling (bare FastAPI endpoint): {ceiling:.0f} req/s", flush=True)
    with tempfile.TemporaryDirectory(prefix="mlp-bench-e2e-") as tmp:
        started = time.monotonic()
        pipeline = Pipeline(Path(tmp), postgres=args.postgres, log_level=args.log_level)
        try:
            pipeline.start()
            targets = usable_targets(pipeline)
            print(f"system up in {time.monotonic() - started:.1f} s ({variant}); {len(targets)} routable places")
            measure(pipeline, 5, 1 if args.smoke else 3, targets, 60)  # warm-up: connections, caches, JIT-free paths
            rows = []
            for rate in rates:
                row = measure(pipeline, rate, duration, targets, drain_timeout=30 if args.smoke else args.drain_timeout)
                rows.append(row)
                print(f"rate {rate:g}/s: {row['accepted']}/{row['sent']} accepted, {row['delivered']} lead emails, "
                      f"p50 {row['p50']:.0f} ms, p95 {row['p95']:.0f} ms, p99 {row['p99']:.0f} ms, "
                      f"max {row['max']:.0f} ms; 202 p95 {row['intake_p95']:.0f} ms; "
                      f"{row['emails_per_request']:.1f} emails/request", flush=True)
        finally:
            pipeline.stop()

    body = table(rows) + "\n\n" + ceiling_note(ceiling, max(rates))
    print("\n" + body)
    failed = [r for r in rows if r["delivered"] == 0 or r["errors"]]
    if args.smoke or args.no_write:
        return 1 if failed else 0
    at_target = next((r for r in rows if r["rate"] == TARGET_RATE), None)
    verdict = (f"Target p95 < {TARGET_P95_MS} ms at {TARGET_RATE} req/s: "
               f"**{'met' if at_target['p95'] < TARGET_P95_MS else 'missed'}** (p95 {at_target['p95']:.0f} ms)."
               if at_target else "")
    drained_rows = [r for r in rows if r["drained"]] or rows
    emails_per_request = sum(r["emails_per_request"] for r in drained_rows) / len(drained_rows)
    load = os.getloadavg()
    notes = (
        f"{variant}; whole system as real processes (4 services, private redis-server, recording SMTP sink "
        "in its own process), loopback only; open-loop load, each rate for "
        f"{duration:g} s, pipeline drained between rates. Latency = lead RBE's email accepted by the sink "
        "minus the client's receipt of the 202 (same CLOCK_MONOTONIC). Each request routes to 1–3 RBEs "
        f"and the company gets an acknowledgement: {emails_per_request:.1f} "
        "emails per request on average. "
        "Anything else running on the machine perturbs the figures upwards "
        f"(load average at the end of the run: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on 2 cores).\n\n"
    )
    write_section("e2e_latency" + ("_postgres" if args.postgres else ""),
                  f"End-to-end latency, 202 → lead RBE's email ({variant})", notes + body + "\n\n" + verdict,
                  command=".venv/bin/python -m bench.e2e_latency " + " ".join(sys.argv[1:] if argv is None else argv))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
