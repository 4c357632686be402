"""Helpers for the ops tests: what the code declares (metrics, settings, CLI), read from the sources."""

from __future__ import annotations

import importlib
import re
from functools import cache
from pathlib import Path

import pydantic_settings

from shared.platform.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CODE_DIRS = ("shared", "services")
METRIC_SUFFIXES = ("_bucket", "_count", "_sum", "_created", "_total")
PROMQL_METRIC = re.compile(r"\bmlp_[a-z0-9_]+\b")


@cache
def python_sources() -> str:
    return "\n".join(
        path.read_text(encoding="utf-8")
        for folder in CODE_DIRS
        for path in sorted((ROOT / folder).rglob("*.py"))
    )


def metric_is_declared(name: str) -> bool:
    """True when a metric queried by PromQL is declared in the code (as a string literal)."""
    sources = python_sources()
    candidates = {name}
    for suffix in METRIC_SUFFIXES:
        if name.endswith(suffix):
            candidates.add(name[: -len(suffix)])
    for base in candidates:
        if re.search(rf"[\"']{re.escape(base)}(_total)?[\"']", sources):
            return True
    return False


def metrics_in(promql: str) -> set[str]:
    return set(PROMQL_METRIC.findall(promql))


def settings_classes() -> list[type[Settings]]:
    """Settings and the subclasses a service declares in services/<svc>/config.py."""
    classes: list[type[Settings]] = [Settings]
    for config in sorted((ROOT / "services").glob("*/config.py")):
        module = importlib.import_module(f"services.{config.parent.name}.config")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, pydantic_settings.BaseSettings):
                classes.append(value)
    return classes


def known_env_vars() -> set[str]:
    names: set[str] = set()
    for cls in settings_classes():
        prefix = (cls.model_config.get("env_prefix") or "").upper()
        names.update(prefix + field.upper() for field in cls.model_fields)
    # Read directly from the environment by the `monlyceepro serve` command.
    cli = (ROOT / "services" / "cli.py").read_text(encoding="utf-8")
    names.update(re.findall(r"[\"'](MLP_[A-Z0-9_]+)[\"']", cli))
    return names
