"""Sampling profiles of running services with py-spy (all threads: stream handlers and the
sender run in worker threads, which pyinstrument's main-thread profiler does not see).

py-spy is not a project dependency: install it aside, e.g.
``python3 -m venv /tmp/pyspy-venv && /tmp/pyspy-venv/bin/pip install py-spy``, or point
``MLP_BENCH_PYSPY`` at the binary. Without it the benchmarks fall back to per-process CPU only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

CANDIDATES = ("/tmp/pyspy-venv/bin/py-spy",)


def pyspy_binary() -> str | None:
    explicit = os.environ.get("MLP_BENCH_PYSPY")
    if explicit and Path(explicit).exists():
        return explicit
    found = shutil.which("py-spy")
    if found:
        return found
    return next((c for c in CANDIDATES if Path(c).exists()), None)


class Recording:
    def __init__(self, service: str, pid: int, out: Path, duration_s: int, rate_hz: int = 50) -> None:
        self.service, self.out = service, out
        binary = pyspy_binary()
        self.proc = None
        if binary:
            self.proc = subprocess.Popen(
                [binary, "record", "-p", str(pid), "-d", str(duration_s), "-r", str(rate_hz), "-f", "raw",
                 "-o", str(out), "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )

    def wait(self) -> Path | None:
        if self.proc is None:
            return None
        try:
            self.proc.wait(120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        return self.out if self.out.exists() else None


def _frames(stack: str) -> list[str]:
    return [f for f in stack.split(";") if f]


def _path(frame: str) -> str:
    return frame.partition(" (")[2].rstrip(")").rsplit(":", 1)[0]


def _is_project(frame: str) -> bool:
    path = _path(frame)
    return path.startswith(("services/", "shared/")) or "/services/" in path or "/shared/" in path


def _short(frame: str) -> str:
    """``function (path/file.py:123)`` -> ``function (path/file.py:123)`` with site-packages cut."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    if "site-packages/" in where:
        where = where.split("site-packages/", 1)[1]
    if not _is_project(frame):
        where = where.rsplit(":", 1)[0]  # library frames: file only, lines merged
    return f"{name} ({where})"


def summarize(raw: Path, top: int = 8) -> dict:
    """Top leaf functions (self time) and the project functions (services/, shared/) under which
    the samples were taken (innermost project frame of each stack), as shares of all samples."""
    leaf: Counter[str] = Counter()
    project: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = _frames(stack)
        if not frames:
            continue
        total += n
        leaf[_short(frames[-1])] += n
        own = [f for f in frames if _is_project(f)]
        project[_short(own[-1]) if own else "(hors code du projet : boucle asyncio, uvicorn, faststream…)"] += n
    if total == 0:
        return {"samples": 0, "leaf": [], "project": []}
    return {
        "samples": total,
        "leaf": [(name, n / total) for name, n in leaf.most_common(top)],
        "project": [(name, n / total) for name, n in project.most_common(top)],
    }


def markdown(service: str, summary: dict) -> str:
    if not summary.get("samples"):
        return f"*{service}* : pas d'échantillons.\n"
    lines = [f"**{service}** ({summary['samples']} samples, on-CPU, all threads)\n",
             "| innermost project function | share | | leaf function (self) | share |", "|---|---:|---|---|---:|"]
    for (p, ps), (leaf_name, ls) in zip(summary["project"], summary["leaf"], strict=False):
        lines.append(f"| `{p}` | {ps:.0%} | | `{leaf_name}` | {ls:.0%} |")
    return "\n".join(lines) + "\n"
