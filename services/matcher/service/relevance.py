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
        for cfd, tracks in lycee.offers.items():
            romes = wanted.cfd_romes.get(cfd)
            if not romes:
                continue
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
        m.relevance = max(m.relevance, 0.5) + (0.2 if m.cfds else 0.0)
    if m.relevance <= 0:
        return None
    if m.welcomes_service:
        m.reasons.append(f"le lycée indique être ouvert à {NEED_SERVICE_LABELS.get(need, need)}")
    return m


def candidates_within(model: CatalogReadModel, needs: list[str], wanted: Wanted, territory: str,
                      lat: float, lon: float, radius_km: float) -> dict[str, Match]:
    """Every relevant lycée in the search area's cells (distance filtered by the caller)."""
    cfds = set(wanted.cfd_romes)
    by_uai: dict[str, Match] = {}
    pools = []
    if cfds:
        pools.append(model.lycees_near(territory, lat, lon, radius_km, cfds))
    if any(n not in JOB_NEEDS for n in needs):
        pools.append(ly for ly in model.lycees_near(territory, lat, lon, radius_km) if ly.services)
    for pool in pools:
        for lycee in pool:
            if lycee.uai in by_uai or lycee.territory != territory:
                continue
            best: Match | None = None
            for need in needs:
                m = match_need(need, lycee, wanted, model.formation_specificity)
                if m and (best is None or m.relevance > best.relevance):
                    if best is not None:
                        m.cfds |= best.cfds
                    best = m
            if best:
                by_uai[lycee.uai] = best
    return by_uai
