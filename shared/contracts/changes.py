"""How a repeat request's changes read in French, the same in the lycées' emails and on the company's
status page (the matcher computes them; events carry them as ``RequestChange``)."""

from __future__ import annotations

from shared.contracts.events import RequestChange
from shared.contracts.request_schema import NEED_LABELS

LABELS = {"needs": "Besoins", "jobs": "Métiers", "place": "Lieu", "period": "Période", "places": "Nombre de places"}


def _shown(change: RequestChange, value: str) -> str:
    if change.field == "needs":
        return ", ".join(NEED_LABELS.get(n, n) for n in value.split(",") if n)
    return value


def change_lines(changes: list[RequestChange]) -> list[str]:
    """« Métiers : boulanger → pâtissier », one line per changed detail (the message is shown apart)."""
    return [f"{LABELS[c.field]} : {_shown(c, c.before) or 'non précisé'} → {_shown(c, c.after) or 'non précisé'}"
            for c in changes if c.field in LABELS]
