"""The floor of the design: what the request's path costs on this machine, one layer at a time.

    .venv/bin/python -m bench.floor --rates 50,100,150,200 [--duration 15] [--layers bare,backbone,system]
    .venv/bin/python -m bench.floor --layers backbone --env MLP_LOG_LEVEL=WARNING --no-write

Three layers, each driven by the same open-loop load generator into the same recording SMTP
sink, with a private Redis, at the same rates; every request makes four emails (lead RBE, two
copies, the company's acknowledgement: the real system's count on the benchmarks' targets):

* **bare** (``bench.floor_roles``): the same processes and frameworks (uvicorn, FastAPI with the
  real request schema, faststream batch consumers, the project's SMTP client), no database, no
  logging, no metrics;
* **backbone** (``bench.floor_backbone``): the project's own service shells, consumers,
  processed-event keys, outboxes and relays (SQLite), logging at INFO, metrics; no business;
* **system**: the real four services (``bench.pipeline``).

For each, CPU per accepted request of every process (services, Redis, the sink, the load
generator) and how long after the last request its last email reached the sink (a rate the
layer does not hold leaves a backlog: seconds, growing with the duration). What a layer adds
over the one below is its own cost: the bare floor is a lower bound for the design on this
machine. Writes its table to docs/benchmarks.md unless ``--no-write``; ``--smoke``: the bare and
backbone layers at one short rate (CI).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.pipeline import (
    EMAILS_PER_REQUEST,
    ROOT,
    Pipeline,
    Sink,
    _die_with_parent,
    drive,
    exit_on_sigterm,
    proc_cpu_s,
    usable_targets,
    wait_emails,
)
from bench.report import machine, write_section
from tests.support.live import service_env
from tests.support.servers import RedisServer, free_port

LAYERS = ("bare", "backbone", "system")
TARGETS = [("69007", "Boulanger")]  # the floor layers route nothing; the system uses usable_targets()


class Floor:
    """The bare or backbone layer: three processes, Redis and the sink."""

    def __init__(self, workdir: Path, backbone: bool = False, extra_env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.backbone = backbone
        self.extra_env = extra_env or {}
        self.redis_server = RedisServer()
        self.sink = Sink(workdir / "sink.tsv")
        self.ports = {role: free_port() for role in ("intake", "matcher", "notifier")}
        self.procs: dict[str, subprocess.Popen] = {}
        self.targets = TARGETS

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['intake']}"

    def start(self) -> Floor:
        self.redis_server.start()
        self.sink.start()
        if self.backbone:  # the real service shells: settings, logging and metrics as in production
            env = service_env(self.workdir, self.redis_server.url, **{
                "MLP_SMTP_URL": self.sink.url, "MLP_LOG_LEVEL": "INFO", "MLP_CLAIM_IDLE_MS": "30000", **self.extra_env})
            apps = {role: f"bench.floor_backbone:{role}_app" for role in self.ports}
        else:
            env = {**os.environ, "FLOOR_REDIS_URL": self.redis_server.url}
            apps = {"intake": "bench.floor_roles:web_app"}
        common = dict(cwd=ROOT, env=env, preexec_fn=_die_with_parent)
        for role, port in self.ports.items():
            if role in apps:
                log = open(self.workdir / f"{role}.log", "w")  # noqa: SIM115 - the child holds it
                self.procs[role] = subprocess.Popen(
                    [sys.executable, "-m", "uvicorn", apps[role], "--factory", "--port", str(port),
                     "--log-level", "warning", "--no-access-log"], stdout=log, stderr=subprocess.STDOUT, **common)
                log.close()
            else:
                self.procs[role] = subprocess.Popen(
                    [sys.executable, "-m", "bench.floor", "--role", role, "--smtp-port", str(self.sink.port)],
                    stdout=subprocess.PIPE, text=True, **common)
                if self.procs[role].stdout.readline().strip() != "ready":
                    raise RuntimeError(f"{role} n'a pas démarré")
        for role in apps:
            _wait_http(f"http://127.0.0.1:{self.ports[role]}/healthz")
        return self

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            proc.wait(10)
        self.sink.stop()
        self.redis_server.stop()

    def pids(self) -> dict[str, int]:
        return {**{name: proc.pid for name, proc in self.procs.items()},
                "redis": self.redis_server.proc.pid, "sink": self.sink.proc.pid, "load generator": os.getpid()}


class System:
    """The real four services, seen through the same interface."""

    def __init__(self, workdir: Path, extra_env: dict[str, str] | None = None) -> None:
        self.pipeline = Pipeline(workdir, extra_env=extra_env)
        self.targets: list[tuple[str, str]] = []

    @property
    def url(self) -> str:
        return self.pipeline.url("intake")

    @property
    def sink(self) -> Sink:
        return self.pipeline.sink

    def start(self) -> System:
        self.pipeline.start()
        self.targets = usable_targets(self.pipeline)
        return self

    def stop(self) -> None:
        self.pipeline.stop()

    def pids(self) -> dict[str, int]:
        return {**self.pipeline.pids(), **self.pipeline.support_pids()}


def _wait_http(url: str) -> None:
    for _ in range(300):
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} ne répond pas")


def measure(layer: Floor | System, rate: float, duration: float) -> dict:
    """CPU from the first request until the last email reached the sink (plus half a second)."""
    pids = layer.pids()
    expected_before = len(layer.sink.records)
    before = {name: proc_cpu_s(pid) for name, pid in pids.items()}
    started = time.monotonic()
    run = asyncio.run(drive(layer.url, rate, duration, layer.targets))
    accepted = len(run.accepted)
    late = wait_emails(layer.sink, expected_before + EMAILS_PER_REQUEST * accepted, max(30.0, duration * 4))
    time.sleep(0.5)
    wall = time.monotonic() - started
    cpu = {name: (proc_cpu_s(pid) - before[name]) / max(1, accepted) * 1000 for name, pid in pids.items()}
    services = sum(cpu.get(name, 0.0) for name in ("intake", "matcher", "notifier", "catalog"))
    return {"rate": rate, "accepted": accepted, "late_s": late, "cpu_ms": cpu, "services_ms": services,
            "all_ms": sum(cpu.values()), "cores": sum(cpu.values()) * accepted / 1000 / wall}


def run_layer(name: str, rates: list[float], duration: float, extra_env: dict[str, str]) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix=f"mlp-bench-floor-{name}-") as tmp:
        layer = (System(Path(tmp), extra_env) if name == "system"
                 else Floor(Path(tmp), backbone=name == "backbone", extra_env=extra_env))
        try:
            layer.start()
            warm = asyncio.run(drive(layer.url, 10, 3, layer.targets))
            wait_emails(layer.sink, EMAILS_PER_REQUEST * len(warm.accepted), 60)
            time.sleep(2)  # start-up work (the matcher's read model, first imports) out of the figures
            for rate in rates:
                row = {"layer": name, **measure(layer, rate, duration)}
                print_row(row)
                rows.append(row)
                if row["late_s"] is None:  # far beyond what the layer holds: higher rates say no more
                    break
        finally:
            layer.stop()
    return rows


def print_row(row: dict) -> None:
    parts = "  ".join(f"{name} {ms:.2f}" for name, ms in row["cpu_ms"].items())
    late = "never" if row["late_s"] is None else f"{row['late_s']:.1f} s"
    print(f"{row['layer']:8s} {row['rate']:g} req/s ({row['accepted']} accepted, last email {late} after the "
          f"last request): ms of CPU per request: {parts}  | all {row['all_ms']:.1f} ({row['cores']:.2f} cores)",
          flush=True)


def table(rows: list[dict]) -> str:
    lines = ["| layer | offered (req/s) | intake | matcher | notifier | services | sink | Redis + load generator "
             "| all | cores of 2 | last email after the last request |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        c = r["cpu_ms"]
        late = "not within 4× the duration" if r["late_s"] is None else f"{r['late_s']:.1f} s"
        lines.append(f"| {r['layer']} | {r['rate']:g} | {c['intake']:.2f} | {c['matcher']:.2f} | {c['notifier']:.2f} "
                     f"| {r['services_ms']:.1f} | {c['sink']:.2f} | {c['redis'] + c['load generator']:.2f} "
                     f"| **{r['all_ms']:.1f}** | {r['cores']:.2f} | {late} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="50,100,150,200")
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--layers", default=None, help=f"default {','.join(LAYERS)} (--smoke: the two floor layers: "
                        "the system's own start is smoke-tested by the other scripts)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting for every service shell (backbone and system), e.g. MLP_LOG_LEVEL=WARNING")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="the bare and backbone layers at one short rate (CI)")
    parser.add_argument("--role", choices=["matcher", "notifier"], help=argparse.SUPPRESS)
    parser.add_argument("--smtp-port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role:
        from bench import floor_roles

        asyncio.run(floor_roles.run_matcher() if args.role == "matcher" else floor_roles.run_notifier(args.smtp_port))
        return 0
    if not shutil.which("redis-server"):
        raise SystemExit("redis-server introuvable : lancez scripts/deps.sh")
    rates = [5.0] if args.smoke else [float(r) for r in args.rates.split(",")]
    layers = args.layers or ("bare,backbone" if args.smoke else ",".join(LAYERS))
    duration = 2.0 if args.smoke else args.duration
    extra_env = dict(item.split("=", 1) for item in args.env)
    print(machine(), flush=True)
    exit_on_sigterm()
    rows = [row for name in layers.split(",") for row in run_layer(name, rates, duration, extra_env)]
    if not (args.smoke or args.no_write or args.env):
        write_section("floor", "The floor of the design: cost per request, layer by layer (SQLite)",
                      f"Open-loop steps of {duration:g} s, each layer on its own fresh processes. CPU in ms per "
                      "accepted request; *services* is the sum of intake, matcher, notifier (and the "
                      "catalog for the system).\n\n" + table(rows),
                      command=f".venv/bin/python -m bench.floor --rates {args.rates} --duration {duration:g} "
                              f"--layers {layers}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
