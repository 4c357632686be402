"""Relevance: which lycées can help with which need, and how well (0..1), with reasons."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.matcher.service.readmodel import CatalogReadModel, LyceeView

JOB_NEEDS = {"pfmp", "apprentissage", "recrutement"}
NEED_SERVICE_LABELS = {
    "pfmp": "l'accueil de stagiaires", "apprentissage": "l'apprentissage", "recrutement": "le recrutement",
    "intervention": "les interventions en classe", "visite": "les visites d'entreprise", "jury": "les jurys",
    "materiel": "les dons de matériel", "soutien": "le soutien au lycée", "autre": "les partenariats",
}


@dataclass(slots=True)
class Match:
    """A lycée found relevant for the request, before ranking."""

    lycee: LyceeView
    relevance: float = 0.0
    cfds: set[str] = field(default_factory=set)
    reasons: list[str] = field(default_factory=list)
    welcomes_service: bool = False


@dataclass(slots=True)
class Wanted:
    """What the request asks for, resolved once."""

    romes: frozenset[str]
    from_sector: bool  # the ROME codes come from the NAF sector only
    unresolved_jobs: list[str]
    cfd_romes: dict[str, set[str]]


def resolve_wanted(model: CatalogReadModel, jobs: list[str], naf: str | None) -> Wanted:
    key = (tuple(jobs), naf)
    cached = model.wanted_cache.get(key)
    if cached is None:
        cached = _resolve_wanted(model, jobs, naf)
        if len(model.wanted_cache) > 4096:
            model.wanted_cache.clear()
        model.wanted_cache[key] = cached
    return cached


def _resolve_wanted(model: CatalogReadModel, jobs: list[str], naf: str | None) -> Wanted:
    romes: set[str] = set()
    unresolved = []
    for job in jobs:
        found = model.resolve_job(job)
        if found:
            romes |= found
        else:
            unresolved.append(job)
    from_sector = False
    if not romes and naf:
        division = "".join(c for c in naf if c.isdigit())[:2]
        romes = set(model.naf_romes.get(division, ()))
        from_sector = bool(romes)
    return Wanted(frozenset(romes), from_sector, unresolved, model.cfds_for_romes(romes))


def _track_factor(need: str, lycee: LyceeView, tracks: frozenset[str]) -> float:
    if need == "apprentissage":
        if "apprentissage" in tracks:
            return 1.0
        return 0.7 if lycee.apprenticeship_capable else 0.0
    if need in ("pfmp", "recrutement"):
        if "scolaire" in tracks:
            return 1.0
        return 0.6 if need == "recrutement" else 0.0
    return 0.8  # any track shows the trade is close


def match_need(need: str, lycee: LyceeView, wanted: Wanted, specificity: dict[str, float]) -> Match | None:
    """How relevant one lycée is for one need (None when it is not)."""
    m = Match(lycee)
    m.welcomes_service = need in lycee.services
    if wanted.romes:
        covered: set[str] = set()
        best_track = 0.0
        offers, wanted_cfds = lycee.offers, wanted.cfd_romes
        common = ([c for c in wanted_cfds if c in offers] if len(wanted_cfds) < len(offers)
                  else [c for c in offers if c in wanted_cfds])
        for cfd in common:
            romes, tracks = wanted_cfds[cfd], offers[cfd]
            factor = _track_factor(need, lycee, tracks) * specificity.get(cfd, 0.85)
            if factor <= 0:
                continue
            m.cfds.add(cfd)
            covered |= romes
            best_track = max(best_track, factor)
        if covered:
            denominator = min(len(wanted.romes), 3) if wanted.from_sector else len(wanted.romes)
            coverage = min(1.0, len(covered) / denominator)
            m.relevance = coverage * best_track * (0.8 if wanted.from_sector else 1.0)
    if need not in JOB_NEEDS and m.welcomes_service:
        m.relevance = min(1.0, max(m.relevance, 0.5) + (0.2 if m.cfds else 0.0))
    if m.relevance <= 0:
        return None
    if m.welcomes_service:
        m.reasons.append(f"le lycée indique être ouvert à {NEED_SERVICE_LABELS.get(need, need)}")
    return m
