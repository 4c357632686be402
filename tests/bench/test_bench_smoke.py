"""The benchmark scripts in bench/ do not rot: the wrk-driven intake benchmark runs its ``--smoke`` mode
as a subprocess (exit code 0, figures printed, docs/benchmarks.md not written), every other script its
``--help`` (``MLP_BENCH_SMOKE_ALL=1``: every script's smoke mode, one at a time, as they start real
processes on a 2-core machine); no timing is asserted.

A script without ``--smoke`` runs with small arguments when it has ``--no-write``; otherwise it is
reported as skipped (it would rewrite docs/benchmarks.md). The in-process micro-benchmarks beside
the services' tests (``tests/*/bench_*.py``) run with tiny counts too."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
HELPERS = {"__init__", "report", "pipeline", "load", "profiling", "sink", "wrk"}
# Small arguments for scripts that have no --smoke flag yet (but have --no-write).
FALLBACK = {
    "routing": ["--requests", "20", "--scales", "1", "--no-write"],
    "catalog_search": ["--rounds", "5", "--no-write"],
}
# A figure: a number followed by a unit, or a markdown table row holding numbers.
FIGURE = re.compile(r"\d+(?:[.,]\d+)?\s*(?:ms|req/s|MiB|MB|s\b|%)|^\|[^\n]*\|\s*\d+(?:[.,]\d+)?\s*\|", re.M)
TIMEOUT_S = 400  # per script; a smoke run takes 20–40 s on an idle machine, start-up included


def scripts() -> list[str]:
    return sorted(p.stem for p in BENCH.glob("*.py")
                  if p.stem not in HELPERS and "__main__" in p.read_text(encoding="utf-8"))


def smoke_args(name: str) -> list[str] | None:
    source = (BENCH / f"{name}.py").read_text(encoding="utf-8")
    if '"--smoke"' in source:
        return ["--smoke"]
    args = FALLBACK.get(name)
    if args and all(f'"{a}"' in source for a in args if a.startswith("--")):
        return args
    return None


def run_smoke(name: str, args: list[str], log_path: Path) -> tuple[int | None, str]:
    env = {**os.environ, "MLP_ENV": "test", "PYTHONUNBUFFERED": "1"}
    with open(log_path, "w+", encoding="utf-8") as log:
        proc = subprocess.Popen([sys.executable, "-m", f"bench.{name}", *args], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            code = proc.wait(TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.terminate()  # the scripts stop their own processes on SIGTERM
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            code = None
        log.seek(0)
        return code, log.read()


# The default suite keeps one short smoke run (the wrk-driven intake benchmark, which starts two servers and
# the native generator); every other script only parses its arguments and imports what it runs. Before a
# change that touches the benchmarks: MLP_BENCH_SMOKE_ALL=1 make test runs every script's smoke mode.
SMOKE_ALL = os.environ.get("MLP_BENCH_SMOKE_ALL") == "1"
DEFAULT_SMOKE = {"intake_throughput"}


@pytest.mark.timeout(TIMEOUT_S + 90)
@pytest.mark.parametrize("name", scripts())
def test_bench_script_smoke(name: str, tmp_path):
    if not SMOKE_ALL and name not in DEFAULT_SMOKE:
        code, output = run_smoke(name, ["--help"], tmp_path / f"{name}.log")
        assert code == 0 and "usage:" in output, f"bench.{name} --help exited with {code}:\n{output[-2000:]}"
        return
    args = smoke_args(name)
    if args is None:
        pytest.skip(f"bench/{name}.py has neither --smoke nor --no-write: running it would rewrite "
                    "docs/benchmarks.md")
    code, output = run_smoke(name, args, tmp_path / f"{name}.log")
    assert code == 0, f"bench.{name} {' '.join(args)} exited with {code}:\n{output[-3000:]}"
    assert FIGURE.search(output), f"bench.{name} printed no figure:\n{output[-2000:]}"
    assert "written to docs/benchmarks.md" not in output, "a smoke run must not write docs/benchmarks.md"


def test_every_pipeline_benchmark_is_covered():
    # The end-to-end benchmarks of issue 9 exist and have a --smoke mode.
    for name in ("e2e_latency", "throughput", "memory"):
        assert name in scripts()
        assert smoke_args(name) == ["--smoke"]


# The in-process CPU micro-benchmarks beside each service's tests, with tiny counts.
MICRO = {
    "tests.intake.bench_handlers": ["--calls", "10", "--rounds", "1", "--warmup", "5", "--batch", "2"],
    "tests.matcher.bench_flows": ["--fake", "--calls", "10", "--rounds", "1", "--warmup", "5"],
    "tests.notifier.bench_thread": ["--requests", "10", "--copies", "20"],
    "tests.notifier.bench_sender": ["--passes", "2", "--backlogs", "1", "--rounds", "1"],
    "tests.notifier.bench_lease": ["--backlogs", "8", "--rounds", "1"],
    "tests.integration.bench_relay": ["--sizes", "1,3", "--events", "6", "--rounds", "1"],
    "tests.intake.bench_history": ["--sizes", "20,40", "--calls", "5"],
}


@pytest.mark.parametrize("module", sorted(MICRO))
def test_micro_benchmark_smoke(module: str):
    result = subprocess.run([sys.executable, "-m", module, *MICRO[module]], cwd=ROOT, capture_output=True,
                            text=True, timeout=TIMEOUT_S, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert FIGURE.search(result.stdout), result.stdout[-2000:]
