"""Which académies get invitations: the pilot's (issue 20, item 1), unless ``--all-academies``.

The pilot list is ``MLP_PILOT_ACADEMIES`` (académie names, comma-separated; empty: everywhere). This
is the one place campaigns read it: the settings' ``pilot_academies`` when intake's settings have
that field, else the environment variable as it is.
"""

from __future__ import annotations

import os

from shared.reference.geo import fold


def _key(name: str) -> str:
    folded = fold(name)
    for prefix in ("academie de ", "academie d ", "academie "):
        if folded.startswith(prefix):
            folded = folded[len(prefix):]
    return " ".join(folded.split())


def pilot_academies(settings: object) -> frozenset[str]:
    """The pilot académies (folded names); empty means everywhere."""
    configured = getattr(settings, "pilot_academies", None)
    if configured is None:
        configured = os.environ.get("MLP_PILOT_ACADEMIES", "")
    names = configured.split(",") if isinstance(configured, str) else list(configured)
    return frozenset(_key(n) for n in names if isinstance(n, str) and n.strip())


def in_pilot(academie: str | None, pilot: frozenset[str]) -> bool:
    return not pilot or (academie is not None and _key(academie) in pilot)
