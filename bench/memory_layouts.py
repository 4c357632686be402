"""The whole system's memory at rest in the two ways one machine can run the four services: four
``monlyceepro serve NAME`` processes (each imports its stack), or ``monlyceepro serve-all`` (what
``monlyceepro up`` runs: one launcher imports the common stack, forks the four, then execs a small
watcher). Used by ``bench.memory``; the layouts alternate in one run, on the same databases.

Memory shared between processes is what the second layout saves, so RSS summed over processes (which
counts a shared page once per process) is the wrong total for it: the table gives PSS (each shared page
divided among the processes sharing it; summed, every page once), private memory, and summed RSS.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.support.live import ROOT, children_of, service_env
from tests.support.servers import RedisServer
from tests.support.system import catalog_template

SERVICES = ("catalog", "intake", "matcher", "notifier")
LAYOUTS = ("four `serve` processes", "`serve-all` (as `up`)")


def rollup(pid: int) -> dict[str, int]:
    """/proc/<pid>/smaps_rollup in KiB (Rss, Pss, Private_Clean, Private_Dirty…)."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, _, value = line.partition(":")
        out[key] = int(value.split()[0])
    return out


def _ports(env: dict[str, str]) -> dict[str, int]:
    urls = {name: env[f"MLP_{name.upper()}_URL"] for name in ("intake", "catalog", "matcher")}
    urls["notifier"] = env["MLP_NOTIFIER_API_URL"]
    return {name: int(url.rsplit(":", 1)[1]) for name, url in urls.items()}


def _start(layout: int, env: dict[str, str], ports: dict[str, int], log: Path) -> list[subprocess.Popen]:
    exe = [sys.executable, "-m", "services.cli"]
    with open(log, "ab") as out:
        if layout == 0:
            return [subprocess.Popen([*exe, "serve", name, "--port", str(ports[name])], cwd=ROOT, env=env,
                                     stdout=out, stderr=subprocess.STDOUT) for name in SERVICES]
        return [subprocess.Popen([*exe, "serve-all", *(f"{name}={ports[name]}" for name in SERVICES)], cwd=ROOT,
                                 env=env, stdout=out, stderr=subprocess.STDOUT)]


def _ready(ports: dict[str, int], procs: list[subprocess.Popen], timeout: float = 180) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("a service exited during start-up")
        try:
            if all(httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200 for port in ports.values()):
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError("services not ready")


def measure(rounds: int, settle_s: float) -> list[dict[str, float]]:
    """``rounds`` alternations of the two layouts; per start: ready time (s), then after ``settle_s``
    of rest the sums (MiB) of RSS, PSS and private memory over the layout's processes."""
    results: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="mlp-bench-layouts-") as tmp_name:
        tmp = Path(tmp_name)
        redis_server = RedisServer().start()
        try:
            env = {**service_env(tmp, redis_server.url), "MLP_ENV": "dev", "MLP_LOG_LEVEL": "WARNING"}
            ports = _ports(env)
            subprocess.run([sys.executable, "-m", "services.cli", "migrate"], cwd=ROOT, env=env, check=True,
                           stdout=subprocess.DEVNULL)
            shutil.copyfile(catalog_template(Path(tempfile.gettempdir()) / "mlp-bench-cache"), tmp / "catalog.db")
            for i in range(rounds * 2):
                layout = i % 2
                procs = _start(layout, env, ports, tmp / "services.log")
                try:
                    ready = _ready(ports, procs)
                    time.sleep(settle_s)
                    named = (dict(zip(SERVICES, (p.pid for p in procs), strict=True)) if layout == 0
                             else {"watcher": procs[0].pid, **{name.removeprefix("mlp-"): pid
                                                               for name, pid in children_of(procs[0].pid).items()}})
                    sums = {"Rss": 0, "Pss": 0, "Private": 0}
                    per: dict[str, float] = {}
                    for name, pid in named.items():
                        r = rollup(pid)
                        sums["Rss"] += r["Rss"]
                        sums["Pss"] += r["Pss"]
                        sums["Private"] += r["Private_Clean"] + r["Private_Dirty"]
                        per[f"pss:{name}"] = r["Pss"] / 1024
                    results.append({"layout": layout, "ready_s": ready, "processes": len(named),
                                    **{k: v / 1024 for k, v in sums.items()}, **per})
                finally:
                    for p in procs:
                        p.terminate()
                    for p in procs:
                        p.wait(30)
        finally:
            redis_server.stop()
    return results


def table(results: list[dict[str, float]]) -> str:
    names = (*SERVICES, "watcher")
    lines = ["| layout | start | ready after (s) | PSS (MiB) | " + " | ".join(f"{n} PSS" for n in names)
             + " | private (MiB) | summed RSS (MiB) |", "|---|---:|---:|---:|" + "---:|" * len(names) + "---:|---:|"]
    for i, r in enumerate(results):
        per = " | ".join(f"{r[f'pss:{n}']:.0f}" if f"pss:{n}" in r else "—" for n in names)
        lines.append(f"| {LAYOUTS[int(r['layout'])]} | {i + 1} | {r['ready_s']:.1f} | **{r['Pss']:.0f}** | {per} "
                     f"| {r['Private']:.0f} | {r['Rss']:.0f} |")
    return "\n".join(lines)
