"""The routing decision: rank relevant lycées, deduplicate, pick at most K, group by RBE.

The score and its weights are in ``scoring.py`` (documented in docs/matcher.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date

from services.matcher.service.profile_fit import ProfileFit, capacity_reason
from services.matcher.service.readmodel import CatalogReadModel, LyceeView
from services.matcher.service.relevance import Match, wanted_for
from services.matcher.service.scoring import score as routing_score
from services.matcher.service.search import nearest_relevant
from shared.reference.geo import haversine_km
from shared.reference.jobs import Understanding
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
class Candidate:
    uai: str
    lycee: str
    family: str
    rbe_id: str
    rbe_email: str
    rbe_name: str | None
    is_generic_contact: bool
    distance_km: float
    relevance: float
    score: float
    formations: list[tuple[str, str]]
    reasons: list[str]
    chosen: bool = False
    blocked: str | None = None  # cannot be asked at all: capacity reached, RBE away without deputy
    skipped: str | None = None  # why the selection passed it over

    def as_json(self) -> dict:
        return {
            "uai": self.uai, "lycee": self.lycee, "rbe_id": self.rbe_id, "rbe_email": self.rbe_email,
            "distance_km": self.distance_km, "relevance": round(self.relevance, 3), "score": round(self.score, 2),
            "formations": [{"cfd": c, "label": label} for c, label in self.formations],
            "reasons": self.reasons, "chosen": self.chosen, "blocked": self.blocked, "skipped": self.skipped, "family": self.family,
            "rbe_name": self.rbe_name, "is_generic_contact": self.is_generic_contact,
        }


@dataclass(slots=True)
class RecipientPlan:
    rbe_id: str
    rbe_email: str
    rbe_name: str | None
    is_generic_contact: bool
    role: str
    uais: list[str]
    lycees: list[str]
    distance_km: float
    formations: list[tuple[str, str]]
    reasons: list[str]


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
    found = nearest_relevant(
        model, query.needs, wanted, query.territory, query.latitude, query.longitude, radius, loads=loads,
        today=today, limit=limit, memo=memo.setdefault(first_year, {}), preferred=query.preferred_uai,
        score=lambda m, d, load: routing_score(m, d, radius, load, query.preferred_uai) + fits.of(m).points,
        first_year=first_year, min_relevance=floor, extra_bound=fits.max_points,
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


def select(candidates: list[Candidate], k: int, excluded_rbes: AbstractSet[str] = frozenset(),
           excluded_families: AbstractSet[str] = frozenset()) -> list[RecipientPlan]:
    """At most ``k`` lycées, one per establishment (SEP + parent), one assignment per RBE."""
    families: dict[str, Candidate] = {}
    plans: dict[str, RecipientPlan] = {}
    chosen = 0
    for cand in candidates:
        if cand.blocked:
            continue
        if cand.family in excluded_families or cand.rbe_id in excluded_rbes:
            cand.skipped = "déjà sollicité pour cette demande"
            continue
        if cand.family in families:
            cand.skipped = f"même établissement que {families[cand.family].uai} : une seule sollicitation"
            continue
        if chosen >= k:
            cand.skipped = f"au-delà des {k} lycées retenus"
            continue
        families[cand.family] = cand
        chosen += 1
        cand.chosen = True
        plan = plans.get(cand.rbe_id)
        if plan is None:
            plans[cand.rbe_id] = RecipientPlan(
                rbe_id=cand.rbe_id, rbe_email=cand.rbe_email, rbe_name=cand.rbe_name,
                is_generic_contact=cand.is_generic_contact, role="lead" if not plans else "copy",
                uais=[cand.uai], lycees=[cand.lycee], distance_km=cand.distance_km,
                formations=list(cand.formations), reasons=list(cand.reasons),
            )
        else:
            plan.uais.append(cand.uai)
            plan.lycees.append(cand.lycee)
            plan.formations.extend(f for f in cand.formations if f not in plan.formations)
            plan.reasons.append(f"couvre aussi {cand.lycee} ({cand.uai}) : une seule affectation")
            cand.reasons.append("même référent qu'un autre lycée retenu : une seule affectation")
    return list(plans.values())


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
            break
    if recipients and not first_year and radius is not None:
        specific_radius = _reserve_specific(model, query, wanted, ranked, k, radius, steps, loads, today, memo)
        if specific_radius is not None:
            recipients = select(ranked, k)
            radius = max(radius or 0.0, specific_radius)
    kept = [c for c in ranked if c.chosen] + [c for c in ranked if not c.chosen][: max(keep - k, 0)]
    decision = Decision(
        recipients=recipients, candidates=kept, radius_km=radius, romes=wanted.romes,
        academie=query.academie, explanation="", unroutable=not recipients, unresolved_jobs=wanted.unresolved_jobs,
        understood=[understood_json(u) for u in wanted.understood], first_year_only=first_year,
        paths=[_path(u) for u in wanted.understood],
    )
    decision.explanation = explain(model, query, decision, wanted)
    return decision


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
    families = {c.family for c in chosen}
    steps_km = radius_steps(query, steps)
    # One search at the largest step (the nearest-first search stops early); the nearest of its best.
    found = rank(model, query, wanted, steps_km[-1], loads, today, memo, limit=len(families) + 1, floor=threshold)
    usable = [c for c in found if c.blocked is None and c.family not in families]
    if not usable:
        return None
    specific = min(usable, key=lambda c: (c.distance_km, c.uai))
    specific.reasons.append("forme précisément au métier demandé : retenu en plus des lycées les plus proches")
    # Scores are comparable at one radius only: the decision's (beyond it, no proximity points).
    match = memo[False][specific.uai]
    specific.score = routing_score(match, specific.distance_km, radius, loads.get(specific.uai, 0),
                                   query.preferred_uai) + memo["fits"].of(match).points
    for cand in ranked:
        cand.chosen, cand.skipped = False, None
    ranked[:] = [c for c in ranked if c.uai != specific.uai]
    by_score = next((i for i, c in enumerate(ranked) if c.score < specific.score), len(ranked))
    ranked.insert(min(by_score, ranked.index(chosen[k - 1])), specific)
    return next((r for r in steps_km if r >= specific.distance_km), steps_km[-1])


def understood_paths(model: CatalogReadModel, jobs: list[str], naf: str | None) -> list[str]:
    return [_path(u) for u in wanted_for(model, jobs, naf).understood]


def understood_json(u: Understanding) -> dict:
    best = sorted(u.formations.values(), key=lambda f: (-f.weight, f.label))[:3]
    return {"text": u.text, "status": u.status, "message": u.message, "romes": u.romes,
            "formations": [{"cfd": f.cfd, "label": f.label, "why": f.why} for f in best]}


def _path(u: Understanding) -> str:
    """« boulangé » → Boulanger / Boulangère (D1102) → CAP Boulanger (Certif Info (rang 1) et ONISEP)."""
    if u.status == "inconnu":
        return f"« {u.text[:60]} » non reconnu"
    jobs = ", ".join(f"{j.label} ({j.rome})" for j in u.jobs[:3]) or u.summary
    best = sorted(u.formations.values(), key=lambda f: (-f.weight, f.label))[:2]
    diplomas = ", ".join(f"{f.label} ({f.why})" for f in best)
    head = "secteur d'activité" if u.from_sector else f"« {u.text[:60]} »"
    return f"{head} → {jobs}" + (f" → {diplomas}" if diplomas else "")


def explain(model: CatalogReadModel, query: RoutingQuery, decision: Decision, wanted: Wanted) -> str:
    where = query.commune_name or "la commune de l'entreprise"
    if wanted.understood:
        asked = "compris : " + " ; ".join(_path(u) for u in wanted.understood)
    else:
        asked = "besoins : " + ", ".join(query.needs)
    if decision.first_year_only:
        asked += " ; aucun lycée formant au métier lui-même à cette distance : lycées de la seconde commune de la famille"
    if decision.unroutable:
        return (f"Aucun lycée pertinent à moins de {decision.radius_km or 0:.0f} km de {where} ({asked}). "
                "La demande est confiée au contact de l'académie et placée en file de revue.")
    lead = decision.recipients[0]
    n = sum(len(r.uais) for r in decision.recipients)
    return (f"{n} lycée(s) retenu(s) dans un rayon de {decision.radius_km:.0f} km autour de {where} ({asked}). "
            f"Référent principal : {lead.lycees[0]} à {km(lead.distance_km)}, le mieux classé "
            "(pertinence, distance, services proposés, périodes de PFMP et événements du lycée, charge du mois)"
            + "".join(f" ; {r}" for r in lead.reasons if r.startswith("période de PFMP compatible")) + ".")


def km(value: float) -> str:
    """'4,2 km' (French decimal comma)."""
    return f"{value:.1f}".replace(".", ",") + " km"
