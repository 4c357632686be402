"""The RBE's words in the search ranking (issue 22): services the lycée declared, PFMP periods meeting the
company's dates, upcoming events and the monthly capacity move a lycée up (or down) within its relevance
step, and the result says why. The matcher's routing score has its own term of the same spirit
(services/matcher/service/profile_fit.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from services.catalog.models import LyceeSettings
from services.catalog.service.profile import EVENT_KINDS, LyceeExtras, event_when
from shared.reference.periods import Period

SERVICE_BONUS = 0.1  # one relevance step: the lycée said it offers what the company needs
PFMP_BONUS = 0.1  # the company's dates fall during one of its PFMP
EVENT_BONUS = 0.05  # an event open to companies soon
CAPACITY_BONUS = 0.02  # the lycée said how many requests it can handle
FULL_MALUS = -0.2  # it said it can handle none this month
EVENT_HORIZON = timedelta(days=120)


@dataclass
class WordsFit:
    bonus: float = 0.0
    highlights: list[str] = field(default_factory=list)


def words_fit(settings: LyceeSettings | None, extras: LyceeExtras | None, need: str | None,
              period: Period | None, today: date) -> WordsFit:
    fit = WordsFit()
    if settings is not None:
        if need and need in settings.services.split(";"):
            fit.bonus += SERVICE_BONUS
            fit.highlights.append("service proposé par le lycée")
        if settings.monthly_capacity == 0:
            fit.bonus += FULL_MALUS
        elif settings.monthly_capacity is not None:
            fit.bonus += CAPACITY_BONUS
    if extras is not None:
        sentence = extras.pfmp_fit(period) if need in (None, "pfmp") else None
        if sentence:
            fit.bonus += PFMP_BONUS
            fit.highlights.append(f"période de PFMP compatible avec vos dates : {sentence}")
        soon = [e for e in extras.upcoming(today) if e.starts_on <= today + EVENT_HORIZON]
        if soon:
            fit.bonus += EVENT_BONUS
        for e in extras.upcoming(today)[:2]:
            fit.highlights.append(f"{EVENT_KINDS.get(e.kind, 'Événement')} : {e.title}, {event_when(e)}")
    return fit
