"""Nearest-first search with an exact early stop.

Cells around the company are visited nearest first; their relevant lycées enter a heap ordered by
distance and are scored in that order. The search stops as soon as ``limit`` askable lycées score
at least the best score any farther lycée could still reach (``scoring.score_bound``: full relevance,
full services and load bonus at that distance), so in a dense city it looks at a few kilometres only,
whatever the catalog size. Safety valve: past MAX_EXAMINED lycées examined (never reached on the real catalog, only in
synthetic catalogs 100 times denser), the nearest ones examined so far are kept. Otherwise the result
is the exact top ``limit`` by score (distances use an equirectangular approximation,
within 0.5 % of the great-circle distance below 150 km; reported distances are great-circle).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Mapping
from datetime import date

from services.matcher.service.readmodel import CatalogReadModel, Cell, LyceeView, cells_by_distance
from services.matcher.service.relevance import JOB_NEEDS, Match, match_need
from services.matcher.service.scoring import score_bound
from shared.reference.jobs.wanted import Wanted

Scorer = Callable[[Match, float, int], float]
MAX_EXAMINED = 600


def is_blocked(ly: LyceeView, load: int, today: date) -> bool:
    if not ly.rbe_email:
        return True
    if ly.monthly_capacity is not None and load >= ly.monthly_capacity:
        return True
    return ly.absent_on(today) and not ly.deputy_email


def nearest_relevant(model: CatalogReadModel, needs: list[str], wanted: Wanted, territory: str, lat: float,
                     lon: float, radius: float, *, loads: Mapping[str, int], today: date, score: Scorer,
                     limit: int, memo: dict[str, Match | None], preferred: str | None = None,
                     max_examined: int = MAX_EXAMINED, first_year: bool = False,
                     min_relevance: float = 0.0, extra_bound: float = 0.0,
                     cells: list[tuple[float, Cell]] | None = None) -> list[tuple[float, float, Match]]:
    """(score, distance_km, match) for the best-scored relevant lycées within ``radius``, best first.
    ``first_year``: a "2nde commune" counts too (the caller found no lycée teaching the trade).
    ``cells``: ``cells_by_distance`` of the same place and radius, when the caller has it (read only)."""
    cfds = wanted.specific_cfds() + (wanted.first_year_cfds() if first_year else [])
    # A lycée reached only through formations weighing less than the floor cannot reach it: not visited.
    cfds = [c for c in cfds if wanted.cfd_weights[c] >= min_relevance]
    grids = [model.cfd_grid[c] for c in cfds if c in model.cfd_grid]
    if any(n not in JOB_NEEDS for n in needs):
        grids.append(model.service_grid)
    services_possible = bool(model.declared_services & set(needs))
    non_job = any(n not in JOB_NEEDS for n in needs) and services_possible
    # Relevance (a mean of formation weights) never exceeds the best weight among the wanted formations.
    max_relevance = 1.0 if non_job else max((wanted.cfd_weights[c] for c in cfds), default=1.0)
    examined = 0
    kx = 111.32 * math.cos(math.radians(lat))
    if cells is None:
        cells = cells_by_distance(territory, lat, lon, radius, model.occupied_cells)
    heap: list[tuple[float, str, LyceeView]] = []
    seen: set[str] = set()
    top: list[float] = []  # min-heap of the best ``limit`` askable scores
    found: list[tuple[float, float, Match]] = []

    def consider(ly: LyceeView, d: float) -> None:
        if ly.uai in memo:
            m = memo[ly.uai]
        else:
            m = None
            for need in needs:
                cand = match_need(need, ly, wanted, first_year=first_year)
                if cand and (m is None or cand.relevance > m.relevance):
                    if m is not None:
                        cand.cfds |= m.cfds
                    m = cand
            memo[ly.uai] = m
        if m is None or m.relevance < min_relevance:
            return
        load = loads.get(ly.uai, 0)
        s = score(m, d, load)
        found.append((s, d, m))
        if not is_blocked(ly, load, today):
            if len(top) < limit:
                heapq.heappush(top, s)
            elif s > top[0]:
                heapq.heapreplace(top, s)

    if preferred and preferred in model.lycees:
        ly = model.lycees[preferred]
        d = math.hypot((ly.latitude - lat) * 110.57, (ly.longitude - lon) * kx)
        if ly.territory == territory and d <= radius:
            seen.add(preferred)
            consider(ly, d)

    ci = 0
    while True:
        next_cell = cells[ci][0] if ci < len(cells) else math.inf
        while heap and heap[0][0] <= next_cell:
            d, _, ly = heapq.heappop(heap)
            if len(top) >= limit and top[0] >= score_bound(d, radius, services_possible, max_relevance, extra_bound):
                return _best_first(found)
            if examined >= max_examined and len(top) >= limit:
                return _best_first(found)  # bounded work at extreme density (see module doc)
            examined += 1
            consider(ly, d)
        if ci >= len(cells) or (len(top) >= limit and top[0] >= score_bound(next_cell, radius, services_possible,
                                                                            max_relevance, extra_bound)):
            return _best_first(found)
        cell = cells[ci][1]
        ci += 1
        for grid in grids:
            for ly in grid.get(cell, ()):
                if ly.uai in seen:
                    continue
                seen.add(ly.uai)
                d = math.hypot((ly.latitude - lat) * 110.57, (ly.longitude - lon) * kx)
                if d <= radius:
                    heapq.heappush(heap, (d, ly.uai, ly))


def _best_first(found: list[tuple[float, float, Match]]) -> list[tuple[float, float, Match]]:
    found.sort(key=lambda t: (-t[0], t[1], t[2].lycee.uai))
    return found
