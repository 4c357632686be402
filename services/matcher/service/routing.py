"""The routing decision: rank relevant lycées, deduplicate, pick at most K, group by RBE.

The score and its weights are in ``scoring.py`` (documented in docs/matcher.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from services.matcher.service.candidates import Candidate, RecipientPlan, select
from services.matcher.service.explanation import explain, km, path, understood_json
from services.matcher.service.profile_fit import ProfileFit, capacity_reason
from services.matcher.service.readmodel import CatalogReadModel, LyceeView, cells_by_distance
from services.matcher.service.relevance import Match, wanted_for
from services.matcher.service.scoring import score as routing_score
from services.matcher.service.search import nearest_relevant
from shared.reference.geo import haversine_km
from shared.reference.jobs.wanted import Wanted

RELEVANCE_FLOOR = 0.5  # below: a weak link, used only when nothing better is within the largest radius
SPECIFIC_SHARE = 0.97  # a lycée this close to the best relevance the request can have teaches the trade itself


@dataclass(slots=True)
class RoutingQuery:
    request_id: uuid.UUID
    needs: list[str]
    jobs: list[str]
    naf: str | None
    latitude: float
    longitude: float
    territory: str
    academie: str | None
    commune_name: str | None = None
    radius_km: int | None = None
    preferred_uai: str | None = None
    period: str | None = None  # the company's dates, free text (« mars à juin »)


@dataclass(slots=True)
class Decision:
    recipients: list[RecipientPlan]
    candidates: list[Candidate]
    radius_km: float | None
    romes: list[str]
    academie: str | None
    explanation: str
    unroutable: bool = False
    unresolved_jobs: list[str] = field(default_factory=list)
    understood: list[dict] = field(default_factory=list)  # per typed job: what it was understood as
    paths: list[str] = field(default_factory=list)  # the same in French: « boulangé » → Boulanger … → CAP …
    first_year_only: bool = False  # only "2nde commune" lycées were within reach


def radius_steps(query: RoutingQuery, steps: list[int]) -> list[int]:
    if query.radius_km:
        return [query.radius_km, *[s for s in steps if s > query.radius_km]]
    return list(steps)


def _contact(ly: LyceeView, today: date) -> tuple[str, str, str | None, bool] | None:
    """(rbe_id, email, name, generic) for this lycée today; the deputy when the RBE is away; None if nobody."""
    if not ly.absent_on(today):
        return ly.rbe_id, ly.rbe_email, ly.rbe_name, ly.is_generic_contact
    if ly.deputy_email:
        return ly.deputy_email.lower(), ly.deputy_email, None, False
    return None


def rank(model: CatalogReadModel, query: RoutingQuery, wanted: Wanted, radius: float,
         loads: Mapping[str, int], today: date, memo: dict | None = None, limit: int = 30,
         first_year: bool = False, floor: float = 0.0) -> list[Candidate]:
    """Candidates best first: the best ``limit`` askable ones, plus the blocked ones ranked among them,
    each explained."""
    memo = {} if memo is None else memo
    fits: ProfileFit = memo.setdefault("fits", ProfileFit(query.needs, query.period, today))
    # A decision searches the same radius several times (floor passes, first-year pass, weak fill, the
    # reserved places): the cells around the company at that radius are listed once.
    cells = memo.get(("cells", radius))
    if cells is None:
        cells = memo[("cells", radius)] = cells_by_distance(query.territory, query.latitude, query.longitude, radius,
                                                             model.occupied_cells)
    found = nearest_relevant(
        model, query.needs, wanted, query.territory, query.latitude, query.longitude, radius, loads=loads,
        today=today, limit=limit, memo=memo.setdefault(first_year, {}), preferred=query.preferred_uai,
        score=lambda m, d, load: routing_score(m, d, radius, load, query.preferred_uai) + fits.of(m).points,
        first_year=first_year, min_relevance=floor, extra_bound=fits.max_points, cells=cells,
    )
    out: list[Candidate] = []
    askable = 0
    for score, _, m in found:
        if askable >= limit:
            break
        ly = m.lycee
        distance = haversine_km(query.latitude, query.longitude, ly.latitude, ly.longitude)
        if distance > radius:
            # The grid search uses a flat-earth distance, off by up to ~1 % at 150 km: the radius
            # promised to the company is checked on the great-circle distance that is reported.
            continue
        cand = _explained(model, query, wanted, m, round(distance, 1), score, loads.get(ly.uai, 0), today, fits)
        askable += cand.blocked is None
        out.append(cand)
    return out


def _explained(model: CatalogReadModel, query: RoutingQuery, wanted: Wanted, m: Match, distance: float,
               score: float, load: int, today: date, fits: ProfileFit | None = None) -> Candidate:
    ly = m.lycee
    weights = wanted.cfd_weights
    formations = [(c, model.formation_label(c)) for c in sorted(m.cfds, key=lambda c: (-weights.get(c, 0.0), c))][:6]
    reasons = []
    if formations:
        reasons.append("forme aux métiers demandés : " + ", ".join(label for _, label in formations[:3]))
        if all(c in ly.inferred or _first_year(wanted, c) for c, _ in formations):
            reasons.append("formation déduite de sa seconde commune (famille de métiers)")
    reasons.append(f"à {km(distance)}")
    reasons.extend(m.reasons)
    if fits is not None:
        reasons.extend(fits.of(m).reasons)
    if (room := capacity_reason(ly, load)) is not None:
        reasons.append(room)
    if query.preferred_uai == ly.uai:
        reasons.append("lycée choisi par l'entreprise")
    cand = Candidate(
        uai=ly.uai, lycee=ly.name, family=ly.family, rbe_id=ly.rbe_id, rbe_email=ly.rbe_email,
        rbe_name=ly.rbe_name, is_generic_contact=ly.is_generic_contact, distance_km=distance,
        relevance=m.relevance, score=score, formations=formations, reasons=reasons,
    )
    if not ly.rbe_email:
        cand.blocked = "aucun contact connu pour ce lycée"
    elif ly.monthly_capacity is not None and load >= ly.monthly_capacity:
        cand.blocked = f"capacité mensuelle atteinte ({load}/{ly.monthly_capacity})"
    else:
        contact = _contact(ly, today)
        if contact is None:
            cand.blocked = "référent absent, sans suppléant"
        elif contact[0] != ly.rbe_id:
            cand.rbe_id, cand.rbe_email, cand.rbe_name, cand.is_generic_contact = contact
            cand.reasons.append("référent absent : son suppléant est prévenu")
    return cand


def _first_year(wanted: Wanted, cfd: str) -> bool:
    return any(cfd in links and links[cfd].common_first_year for links in wanted.per_job)


def decide(model: CatalogReadModel, query: RoutingQuery, *, k: int, steps: list[int],
           loads: Mapping[str, int], today: date, keep: int = 20) -> Decision:
    wanted = wanted_for(model, query.jobs, query.naf)
    ranked: list[Candidate] = []
    recipients: list[RecipientPlan] = []
    radius: float | None = None
    memo: dict = {}
    first_year = False
    limit = max(keep, 3 * k)
    # Weak links (a diploma only one source names against the other, a neighbouring fiche's) never fill
    # the K places while a lycée that really trains for the job lies within the largest radius.
    strongest = max(wanted.cfd_weights.values(), default=1.0)
    floors = (RELEVANCE_FLOOR, 0.0) if strongest >= RELEVANCE_FLOOR else (0.0,)  # all weak: one pass
    for floor in floors:
        for radius in radius_steps(query, steps):
            ranked = rank(model, query, wanted, radius, loads, today, memo, limit=limit, floor=floor)
            first_year = False  # said of this step's lycées only: a wider step may list the trade itself
            if not ranked and wanted.per_job:
                # A "2nde commune" (PFMP), or a speciality only inferred from one, only where no lycée
                # listing the trade itself is within this step.
                ranked = rank(model, query, wanted, radius, loads, today, memo, limit=limit, first_year=True,
                              floor=floor)
                first_year = bool(ranked)
            recipients = select(ranked, k)
            if sum(len(r.uais) for r in recipients) >= k:
                break  # widen while fewer than K lycées are found, so coordination has its K options
        if recipients:
            if floor > 0 and not first_year and radius is not None:
                recipients = _fill_with_weak(model, query, wanted, ranked, k, radius, loads, today, memo, limit)
            break
    if recipients and not first_year and radius is not None:
        _reserve_near(model, query, wanted, ranked, k, radius, steps, loads, today, memo)
        recipients = select(ranked, k)
        specific_radius = _reserve_specific(model, query, wanted, ranked, k, radius, steps, loads, today, memo)
        if specific_radius is not None:
            recipients = select(ranked, k)
            radius = max(radius or 0.0, specific_radius)
    kept = [c for c in ranked if c.chosen] + [c for c in ranked if not c.chosen][: max(keep - k, 0)]
    taught = model.resolver.links.taught_cfds  # what the explanation names first (explanation.best_formations)
    decision = Decision(
        recipients=recipients, candidates=kept, radius_km=radius, romes=wanted.romes,
        academie=query.academie, explanation="", unroutable=not recipients, unresolved_jobs=wanted.unresolved_jobs,
        understood=[understood_json(u, taught) for u in wanted.understood], first_year_only=first_year,
        paths=[path(u, taught) for u in wanted.understood],
    )
    decision.explanation = explain(model, query, decision, wanted)
    return decision


def _fill_with_weak(model: CatalogReadModel, query: RoutingQuery, wanted: Wanted, ranked: list[Candidate], k: int,
                    radius: float, loads: Mapping[str, int], today: date, memo: dict, limit: int) -> list[RecipientPlan]:
    """The places the relevance floor left empty go to lycées reached through weaker links (a related
    diploma, a neighbouring fiche's) rather than staying empty (docs/job-vocabulary.md, « weak links fill
    empty places »): they come after every lycée above the floor, so the lead is still one of those."""
    recipients = select(ranked, k)
    if sum(len(r.uais) for r in recipients) >= k:
        return recipients
    known = {c.uai for c in ranked}
    weak = [c for c in rank(model, query, wanted, radius, loads, today, memo, limit=limit) if c.uai not in known]
    if not weak:
        return recipients
    for cand in weak:
        cand.reasons.append("formation proche du métier demandé : complète les lycées qui y forment précisément")
    for cand in ranked:
        cand.chosen, cand.skipped = False, None
    ranked.extend(weak)
    return select(ranked, k)


def _reserve_near(model: CatalogReadModel, query: RoutingQuery, wanted: Wanted, ranked: list[Candidate], k: int,
                  radius: float, steps: list[int], loads: Mapping[str, int], today: date, memo: dict) -> None:
    """When every chosen lycée lies beyond the first radius step, the K-th place goes to the nearest lycée
    within it that any link reaches (docs/job-vocabulary.md, « near beside specific »): the farther lycées
    that teach the trade keep the other places. Puts it in ``ranked`` just before the K-th chosen one."""
    chosen = [c for c in ranked if c.chosen]
    first = radius_steps(query, steps)[0]
    if k < 2 or len(chosen) < k or any(c.distance_km <= first for c in chosen):
        return
    near = _nearest_other(rank(model, query, wanted, first, loads, today, memo, limit=len(chosen) + 1), chosen)
    if near is None:
        return
    _take_kth_place(model, query, ranked, chosen, near, radius, loads, memo,
                    "lycée le plus proche formant à un métier voisin : retenu en plus des lycées plus éloignés",
                    by_score=near.relevance >= RELEVANCE_FLOOR)  # a weaker link never leads


def _reserve_specific(model: CatalogReadModel, query: RoutingQuery, wanted: Wanted, ranked: list[Candidate], k: int,
                      radius: float, steps: list[int], loads: Mapping[str, int], today: date, memo: dict) -> float | None:
    """One of the K places goes to the nearest lycée teaching the best-linked diplomas of the job when none
    of the chosen ones does (docs/job-vocabulary.md, « specific before near »): nearer lycées teaching a
    related diploma fill the other places. Puts that lycée in ``ranked`` just before the K-th chosen one
    and returns the radius it was found at; None when nothing changes."""
    if len(wanted.per_job) != 1 or k < 2:
        return None
    links = wanted.per_job[0]
    best = max((link.weight for c, link in links.items() if c in model.cfd_grid and not link.common_first_year),
               default=0.0)
    threshold = SPECIFIC_SHARE * best
    chosen = [c for c in ranked if c.chosen]
    if best < RELEVANCE_FLOOR or len(chosen) < k or any(c.relevance >= threshold for c in chosen):
        return None
    steps_km = radius_steps(query, steps)
    # One search at the largest step (the nearest-first search stops early); the nearest of its best.
    found = rank(model, query, wanted, steps_km[-1], loads, today, memo, limit=len(chosen) + 1, floor=threshold)
    specific = _nearest_other(found, chosen)
    if specific is None:
        return None
    _take_kth_place(model, query, ranked, chosen, specific, radius, loads, memo,
                    "forme précisément au métier demandé : retenu en plus des lycées les plus proches", by_score=True)
    return next((r for r in steps_km if r >= specific.distance_km), steps_km[-1])


def _nearest_other(found: list[Candidate], chosen: list[Candidate]) -> Candidate | None:
    """The nearest askable candidate of another establishment than the chosen ones."""
    families = {c.family for c in chosen}
    usable = [c for c in found if c.blocked is None and c.family not in families]
    return min(usable, key=lambda c: (c.distance_km, c.uai)) if usable else None


def _take_kth_place(model: CatalogReadModel, query: RoutingQuery, ranked: list[Candidate], chosen: list[Candidate],
                    cand: Candidate, radius: float, loads: Mapping[str, int], memo: dict, reason: str, *,
                    by_score: bool) -> None:
    """Puts ``cand`` in ``ranked`` just before the K-th chosen candidate (earlier when ``by_score`` and its
    score at the decision's radius is higher), explained by ``reason``; the selection is then run again."""
    cand.reasons.append(reason)
    cand.score = _score_at(model, query, cand, radius, loads, memo)
    for other in ranked:
        other.chosen, other.skipped = False, None
    ranked[:] = [c for c in ranked if c.uai != cand.uai]
    position = ranked.index(chosen[-1])
    if by_score:
        position = min(position, next((i for i, c in enumerate(ranked) if c.score < cand.score), len(ranked)))
    ranked.insert(position, cand)


def _score_at(model: CatalogReadModel, query: RoutingQuery, cand: Candidate, radius: float,
              loads: Mapping[str, int], memo: dict) -> float:
    """A candidate found at another radius, scored at the decision's: scores are comparable at one radius
    only (beyond it, no proximity points)."""
    match = memo[False][cand.uai]
    return routing_score(match, cand.distance_km, radius, loads.get(cand.uai, 0), query.preferred_uai) + \
        memo["fits"].of(match).points
