"""The routing score and the bound the search stops on, both from one set of weights.

Score (documented in docs/matcher.md), 0..110:
    50 x relevance (0..1)                       jobs covered x track fit
  + 30 x (1 - distance / search radius)         nearer is better
  + 10 if the lycée says it welcomes the need   (services declared in the catalog)
  + 10 x (1 - load ratio)                       routed this month / monthly capacity
  + 100 if the company chose this lycée         (came from its profile page)
  + the RBE's words, 0..20                      PFMP period meeting the dates, event (profile_fit.py)

``score_bound`` is the best score a lycée at a given distance can still reach: the nearest-first
search (``search.py``) stops on it, and its stop is exact only while no score exceeds it
(tests/matcher/test_scoring.py checks it).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.matcher.service.relevance import Match


@dataclass(frozen=True, slots=True)
class Weights:
    relevance: int = 50
    proximity: int = 30
    services: int = 10
    load: int = 10
    preferred: int = 100  # not in score_bound: the preferred lycée is examined before the search


WEIGHTS = Weights()


def score(m: Match, distance: float, radius: float, load: int, preferred: str | None) -> float:
    w = WEIGHTS
    ly = m.lycee
    ratio = load / ly.monthly_capacity if ly.monthly_capacity else min(load / 40, 1.0) * 0.5
    total = w.relevance * m.relevance + w.proximity * max(0.0, 1 - distance / radius)
    total += w.services if m.welcomes_service else 0
    total += w.load * (1 - min(ratio, 1.0))
    return total + (w.preferred if preferred and ly.uai == preferred else 0)


def score_bound(distance: float, radius: float, services_possible: bool, max_relevance: float = 1.0,
                extra: float = 0.0) -> float:
    """The best score a relevant lycée at ``distance`` or farther can reach (``score`` of a lycée the
    company did not choose, with relevance at most ``max_relevance`` and no load; ``extra``: the most the
    RBE's words can add, profile_fit.py)."""
    w = WEIGHTS
    return (w.relevance * max_relevance + w.proximity * max(0.0, 1 - distance / radius)
            + (w.services if services_possible else 0) + w.load + extra)
