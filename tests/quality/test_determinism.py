"""The same request goes to the same lycées whatever the process's string-hash seed (a restart, another
worker): two runs of tests/quality/determinism.py under different PYTHONHASHSEED agree case by case."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_routing_does_not_depend_on_the_hash_seed():
    runs = [subprocess.Popen([sys.executable, "-m", "tests.quality.determinism"], cwd=ROOT, text=True,
                             stdout=subprocess.PIPE, env={**os.environ, "PYTHONHASHSEED": seed})
            for seed in ("1", "2")]
    outputs = [run.communicate(timeout=240)[0] for run in runs]
    assert all(run.returncode == 0 for run in runs)
    first, second = (out.splitlines() for out in outputs)
    assert len(first) > 300  # every labelled case was routed
    differing = [a for a, b in zip(first, second, strict=True) if a != b]
    assert differing == []
