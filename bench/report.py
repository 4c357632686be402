"""Write a benchmark's figures into docs/benchmarks.md, in its own marked section, with the
machine it ran on and the command that reproduces it."""

from __future__ import annotations

import os
import platform
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = "# Benchmarks\n\nFigures from real runs; each section names the command that reproduces it.\n"


def machine() -> str:
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = platform.processor() or platform.machine()
    return (f"{os.cpu_count()} cores ({cpu}), {mem_gib:.0f} GiB RAM, Python {platform.python_version()}, "
            f"speed index {speed_index_ms():.0f} ms")


def speed_index_ms() -> float:
    """Best of 7 timings of one pure-Python loop (``sum(range(10**6))``), in ms; lower is faster.

    Two sessions' machines, both "2 cores (x86_64), 24 GiB", ran the same matcher micro-benchmark
    in 4.0 and 7.5 ms: the description alone does not say which figures compare. The index does."""
    best = float("inf")
    for _ in range(7):
        started = time.perf_counter()
        sum(range(10**6))
        best = min(best, time.perf_counter() - started)
    return best * 1000


def write_section(name: str, title: str, body: str, command: str | None = None) -> None:
    command = command or "python " + " ".join(sys.argv)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = (
        f"<!-- bench:{name} -->\n## {title}\n\n"
        f"Command: `{command}`  \nMachine: {machine()}  \nRun: {stamp}\n\n{body.strip()}\n<!-- /bench:{name} -->\n"
    )
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else HEADER
    pattern = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->\n", re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text, encoding="utf-8")
    print(f"\n→ written to {DOC.relative_to(DOC.parent.parent)} (section {name})")


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * pct / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)
