"""A partner's private summary: the requests it brought, routed, answered, and the median time to
the first answer, in total and by way in (embedded form, API key, campaign).

Counts are exact, small ones included: this summary is shown only to the partner itself (with its
own key, scope ``status``) and to MonLycéePro's admins (``monlyceepro partner stats``), and holds
no personal data. Public figures (the impact page) are another matter: they are not computed here.
"""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from services.intake.partners import repository
from services.intake.service.impact import PERIODS  # the same periods as the public impact page

DEFAULT_PERIOD = "tout"
KIND_LABELS = {"embed": "formulaire intégré", "partner_api": "API (clé du partenaire)", "campaign": "campagne"}


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def figures(rows: list[tuple]) -> dict:
    """rows: (created_at, source_kind, first_routed_at, first_answered_at)."""
    delays = [(_aware(r[3]) - _aware(r[0])).total_seconds() / 3600 for r in rows if r[3] is not None]
    return {
        "requests": len(rows),
        "routed": sum(1 for r in rows if r[2] is not None),
        "answered": len(delays),
        "median_hours_to_first_answer": round(statistics.median(delays), 1) if delays else None,
    }


def summary(session: Session, slug: str, name: str, period: str = DEFAULT_PERIOD,
            now: datetime | None = None) -> dict:
    label, days = PERIODS[period]
    since = (now or datetime.now(UTC)) - timedelta(days=days) if days else None
    rows = repository.partner_requests_since(session, slug, since)
    return {
        "partner": slug,
        "name": name,
        "period": period,
        "period_label": label,
        "since": since.isoformat() if since else None,
        "totals": figures(rows),
        "by_source": [{"source": kind, "label": text, **figures([r for r in rows if r[1] == kind])}
                      for kind, text in KIND_LABELS.items() if any(r[1] == kind for r in rows)],
    }
