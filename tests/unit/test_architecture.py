"""The whiteboard rules, checked on the code: shared knows no service, services never import each other.

Only the composition at the services level (``services/cli.py``, ``services/supervisor.py``,
``services/mailsink.py``) may know every service.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("catalog", "intake", "matcher", "notifier")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_shared_imports_no_service():
    offenders = {
        str(path.relative_to(ROOT)): sorted(m for m in imported_modules(path) if m.split(".")[0] == "services")
        for path in (ROOT / "shared").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_shared_reaches_no_module_by_name():
    """A string import (importlib) would hide a dependency from the check above."""
    users = [str(p.relative_to(ROOT)) for p in (ROOT / "shared").rglob("*.py") if "import_module" in p.read_text()]
    assert users == []


def test_services_never_import_each_other():
    offenders = {}
    for service in SERVICES:
        for path in (ROOT / "services" / service).rglob("*.py"):
            others = sorted(m for m in imported_modules(path)
                            if m.startswith("services.") and m.split(".")[1] != service)
            if others:
                offenders[str(path.relative_to(ROOT))] = others
    assert offenders == {}


def test_shared_is_platform_contracts_and_reference_only():
    top = sorted(p.name for p in (ROOT / "shared").iterdir() if not p.name.startswith("__"))
    assert top == ["contracts", "platform", "reference"]
