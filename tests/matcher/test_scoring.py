"""The search's early stop is exact only if no routing score ever exceeds ``score_bound``."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from services.matcher.service import CatalogReadModel
from services.matcher.service.relevance import Match
from services.matcher.service.scoring import WEIGHTS, score, score_bound
from tests.matcher.fakes import make_snapshot

LYCEE = CatalogReadModel(make_snapshot()).lycees["0690001A"]
UNIT = st.floats(0.0, 1.0)
KM = st.floats(0.0, 400.0)
RADIUS = st.floats(0.1, 300.0)
LOAD = st.integers(0, 10_000)  # lycées routed to this month: a count
CAPACITY = st.none() | st.integers(0, 500)


def match(relevance: float, welcomes_service: bool, capacity: int | None) -> Match:
    return Match(lycee=replace(LYCEE, monthly_capacity=capacity), relevance=relevance,
                 welcomes_service=welcomes_service)


@given(max_relevance=UNIT, share=UNIT, welcomes=st.booleans(), services_possible=st.booleans(), near=KM,
       farther=KM, radius=RADIUS, load=LOAD, capacity=CAPACITY,
       preferred=st.sampled_from([None, "0000000X", LYCEE.uai]))
def test_no_score_exceeds_the_bound_at_its_distance_or_nearer(max_relevance, share, welcomes, services_possible,
                                                              near, farther, radius, load, capacity, preferred):
    # What the search knows: relevance never exceeds the best wanted weight, and a lycée welcomes a
    # need only if some lycée declares it (services_possible).
    services_possible = services_possible or welcomes
    m = match(max_relevance * share, welcomes, capacity)
    distance = near + farther  # a lycée met after the point where the bound is taken
    s = score(m, distance, radius, load, preferred)
    # The lycée the company chose is examined before the nearest-first search: its bonus is outside the bound.
    bonus = WEIGHTS.preferred if preferred == LYCEE.uai else 0
    assert s <= score_bound(distance, radius, services_possible, max_relevance) + bonus
    assert s <= score_bound(near, radius, services_possible, max_relevance) + bonus


@given(welcomes=st.booleans(), distance=KM, radius=RADIUS)
def test_the_bound_is_reached_by_a_fully_relevant_idle_lycee(welcomes, distance, radius):
    """The bound is tight, so the search stops as early as the score allows."""
    m = match(1.0, welcomes, None)
    assert score(m, distance, radius, 0, None) == score_bound(distance, radius, welcomes)
