"""The RBE's words in the routing score (issue 22), a term of its own beside relevance, distance,
services and load (scoring.py):

* PFMP: the company wants a trainee and its dates fall during the PFMP of a class of the lycée (for the
  formations matched, or the whole class): +``pfmp``, and the explanation says « période de PFMP compatible
  avec vos dates : vos dates (mars) tombent pendant la PFMP des 1re »; declared periods that miss the dates
  are said too, without points;
* events: an upcoming event open to companies that serves one of the needs (a job dating for recruitment,
  a jury for a jury…): +``events``;
* capacity: a declared monthly capacity is already in the load term; the explanation says how much is left.

Years are ignored in periods (shared.reference.periods): PFMP calendars recur every school year.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from services.matcher.service.readmodel import LyceeView
from services.matcher.service.relevance import Match
from shared.reference.periods import Period, classes_during, fit_sentence, miss_sentence, parse_period

PFMP_POINTS = 15
EVENT_POINTS = 5
MAX_POINTS = PFMP_POINTS + EVENT_POINTS  # what score_bound adds for a lycée not examined yet
EVENT_HORIZON = timedelta(days=120)
EVENT_NEEDS = {
    "job_dating": {"recrutement", "apprentissage", "pfmp"}, "forum": {"recrutement", "apprentissage", "intervention"},
    "portes_ouvertes": {"visite", "materiel", "soutien", "autre"}, "jury": {"jury"}, "autre": {"autre"},
}
EVENT_LABELS = {"job_dating": "job dating", "portes_ouvertes": "portes ouvertes", "forum": "forum des métiers",
                "jury": "jury d'examen", "autre": "événement"}


@dataclass(slots=True)
class Fit:
    points: float = 0.0
    reasons: list[str] = field(default_factory=list)


class ProfileFit:
    """One request's view of the lycées' words; memoised per lycée (a request examines a few dozen)."""

    def __init__(self, needs: list[str], period_text: str | None, today: date) -> None:
        self.needs = set(needs)
        self.period: Period | None = parse_period(period_text) if "pfmp" in self.needs else None
        self.today = today
        self._memo: dict[str, Fit] = {}

    @property
    def max_points(self) -> float:
        return MAX_POINTS

    def of(self, m: Match) -> Fit:
        ly = m.lycee
        found = self._memo.get(ly.uai)
        if found is None:
            found = self._memo[ly.uai] = self._fit(ly, m.cfds)
        return found

    def _fit(self, ly: LyceeView, cfds: set[str]) -> Fit:
        fit = Fit()
        if self.period is not None and ly.pfmp_periods:
            periods = [(classe, p) for classe, cfd, p in ly.pfmp_periods if cfd is None or cfd in cfds]
            classes = classes_during(self.period, periods)
            if classes:
                fit.points += PFMP_POINTS
                fit.reasons.append(f"période de PFMP compatible avec vos dates : {fit_sentence(self.period, classes)}")
            elif periods:
                fit.reasons.append(miss_sentence(self.period))
        horizon = self.today + EVENT_HORIZON
        for kind, title, starts_on, ends_on in ly.events:
            if (ends_on or starts_on) >= self.today and starts_on <= horizon and EVENT_NEEDS.get(kind, set()) & self.needs:
                fit.points += EVENT_POINTS
                day = starts_on.strftime("%d/%m/%Y")
                fit.reasons.append(f"événement ouvert aux entreprises : {EVENT_LABELS.get(kind, 'événement')} "
                                   f"« {title} » le {day}")
                break
        return fit


def capacity_reason(ly: LyceeView, load: int) -> str | None:
    if ly.monthly_capacity is None or load >= ly.monthly_capacity:
        return None
    return f"capacité déclarée par le lycée : {load} demande(s) sur {ly.monthly_capacity} ce mois-ci"
