"""Where the backlog builds when the offered rate exceeds what the system holds, second by second.

    .venv/bin/python -m bench.backlog --rate 180 [--duration 20] [--no-write]
    .venv/bin/python -m bench.backlog --rate 180 --env MLP_SEND_BATCH_SIZE=256   # a setting tried

The whole system as real processes (``bench.pipeline``, SQLite), one open-loop rate, then the
drain. Every second: the consumer groups' lag + pending on the request's path (Redis), each
service's unsent outbox rows and the notifier's email copies waiting to be sent (their
``/metrics``, as ops see them), and the emails the sink has accepted. The summary compares the
sink's rate during the load and during the drain: a stage that sends much faster once the load
stops was starved, not slow. ``--smoke``: a short low rate (CI).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench.pipeline import (
    EMAILS_PER_REQUEST,
    Pipeline,
    drive,
    exit_on_sigterm,
    usable_targets,
    wait_delivered,
    wait_emails,
)
from bench.report import machine, write_section

GAUGES = {
    "intake": ['mlp_outbox_backlog{service="intake"}'],
    "matcher": ['mlp_outbox_backlog{service="matcher"}'],
    "notifier": ['mlp_outbox_backlog{service="notifier"}', "mlp_outbound_emails_pending"],
}


def scrape(url: str, names: list[str]) -> list[float]:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    values = []
    for name in names:
        m = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.M)
        values.append(float(m.group(1)) if m else float("nan"))
    return values


class Watcher(threading.Thread):
    """Samples the pipeline every second until stopped."""

    def __init__(self, pipeline: Pipeline) -> None:
        super().__init__(daemon=True)
        self.pipeline = pipeline
        self.samples: list[dict] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        while not self.stopped.is_set():
            sample = {"t": time.monotonic() - started, "lags": self.pipeline.group_lags()}
            for service, names in GAUGES.items():
                for name, value in zip(names, scrape(self.pipeline.url(service), names), strict=True):
                    sample[f"{service} {name.split('{')[0]}"] = value
            self.pipeline.sink.poll()
            sample["emails"] = len(self.pipeline.sink.records)
            self.samples.append(sample)
            self.stopped.wait(1.0)


def table(samples: list[dict], load_s: float) -> str:
    groups = sorted({g for s in samples for g in s["lags"]})
    gauges = [f"{svc} {n.split('{')[0]}" for svc, names in GAUGES.items() for n in names]
    head = ["t (s)", *[f"lag {g}" for g in groups], *[g.replace("mlp_", "") for g in gauges], "emails at the sink"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for s in samples:
        phase = "" if s["t"] <= load_s else " (drain)"
        cells = [f"{s['t']:.0f}{phase}", *[str(s["lags"].get(g, 0)) for g in groups],
                 *[f"{s[g]:.0f}" for g in gauges], str(s["emails"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def rate_between(samples: list[dict], start: float, end: float) -> float:
    inside = [s for s in samples if start <= s["t"] <= end]
    if len(inside) < 2:
        return float("nan")
    return (inside[-1]["emails"] - inside[0]["emails"]) / (inside[-1]["t"] - inside[0]["t"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=180.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting for every service (e.g. MLP_SEND_BATCH_SIZE=256); implies --no-write")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="a short low rate (CI)")
    args = parser.parse_args(argv)
    rate, duration = (10.0, 3.0) if args.smoke else (args.rate, args.duration)
    print(machine(), flush=True)
    exit_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="mlp-bench-backlog-") as tmp:
        pipeline = Pipeline(Path(tmp), extra_env=dict(item.split("=", 1) for item in args.env))
        try:
            pipeline.start()
            targets = usable_targets(pipeline)
            warm = asyncio.run(drive(pipeline.url("intake"), 10, 3, targets))
            wait_delivered(pipeline, [warm], 60)
            time.sleep(1)  # the warm-up's last copies
            pipeline.sink.poll()
            expected = len(pipeline.sink.records)
            watcher = Watcher(pipeline)
            watcher.start()
            run = asyncio.run(drive(pipeline.url("intake"), rate, duration, targets))
            load_s = watcher.samples[-1]["t"] if watcher.samples else duration
            drained = wait_delivered(pipeline, [run], max(120.0, duration * 10))
            wait_emails(pipeline.sink, expected + EMAILS_PER_REQUEST * len(run.accepted), 120)
            time.sleep(1.5)
            watcher.stopped.set()
            watcher.join()
        finally:
            pipeline.stop()
    samples = watcher.samples
    body = table(samples, load_s)
    print(body)
    during, after = rate_between(samples, 1, load_s), rate_between(samples, load_s, samples[-1]["t"])
    pending_max = max(s["notifier mlp_outbound_emails_pending"] for s in samples)
    summary = (f"{len(run.accepted)} requests accepted at {rate:g} req/s for {duration:g} s "
               f"(first RBE emails all delivered: {'yes' if drained else 'no'}). Emails accepted by the sink: "
               f"**{during:.0f}/s during the load**, **{after:.0f}/s during the drain** "
               f"({EMAILS_PER_REQUEST * rate:g}/s needed to keep up); at most {pending_max:.0f} copies waiting in the notifier.")
    print("\n" + summary)
    if not (args.smoke or args.no_write or args.env):
        write_section("backlog", f"Where the backlog builds at {rate:g} req/s (SQLite)",
                      "One row per second (lag + pending of each consumer group, unsent outbox rows, email "
                      "copies waiting in the notifier, read from the services' /metrics).\n\n"
                      + summary + "\n\n" + body,
                      command=f".venv/bin/python -m bench.backlog --rate {rate:g} --duration {duration:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
