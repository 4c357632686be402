"""The public impact figures, from intake's own request table and the timeline it builds."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from services.intake import repository
from shared.contracts.request_schema import NEED_LABELS

PERIODS: dict[str, tuple[str, int | None]] = {
    "30j": ("30 derniers jours", 30),
    "90j": ("3 derniers mois", 90),
    "12m": ("12 derniers mois", 365),
    "tout": ("Depuis le lancement", None),
}
DEFAULT_PERIOD = "90j"


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _figures(rows: list[tuple]) -> dict:
    received = len(rows)
    routed = sum(1 for r in rows if r[3] is not None)
    delays = [(_aware(r[4]) - _aware(r[0])).total_seconds() / 3600 for r in rows if r[4] is not None]
    return {
        "received": received,
        "routed": routed,
        "answered": len(delays),
        "median_hours_to_first_answer": round(statistics.median(delays), 1) if delays else None,
    }


def impact(session: Session, period: str, now: datetime | None = None) -> dict:
    now = now or datetime.now(UTC)
    label, days = PERIODS[period]
    since = now - timedelta(days=days) if days else None
    rows = repository.requests_since(session, since)
    by_academie: dict[str, list[tuple]] = defaultdict(list)
    by_need: dict[str, list[tuple]] = defaultdict(list)
    for row in rows:
        by_academie[row[2] or "Non renseignée"].append(row)
        for need in row[1] or []:
            by_need[need].append(row)
    return {
        "period": period,
        "period_label": label,
        "since": since.isoformat() if since else None,
        "totals": _figures(rows),
        "by_academie": [{"academie": name, **_figures(r)} for name, r in sorted(by_academie.items())],
        "by_need": [
            {"need": code, "label": NEED_LABELS[code], **_figures(by_need[code])}
            for code in NEED_LABELS if code in by_need
        ],
    }


def french_duration(hours: float | None) -> str:
    """A delay as people say it: « 6 min », « 2,5 h », « 3 j » (never « 0.1 h »)."""
    if hours is None:
        return "—"
    if hours < 1:
        return f"{max(1, round(hours * 60))} min"
    if hours < 48:
        return f"{hours:.1f}".rstrip("0").rstrip(".").replace(".", ",") + " h"
    return f"{hours / 24:.1f}".rstrip("0").rstrip(".").replace(".", ",") + " j"
