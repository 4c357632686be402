"""Relevance: which lycées can help with which need, and how well (0..1), with reasons."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.matcher.service.readmodel import CatalogReadModel, LyceeView
from shared.reference.jobs.wanted import INFERRED_OFFER, Wanted, offer_relevance, resolve_wanted

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


def wanted_for(model: CatalogReadModel, jobs: list[str], naf: str | None) -> Wanted:
    """The request's jobs resolved once per (jobs, NAF) and snapshot (``shared.reference.jobs``)."""
    key = (tuple(jobs), naf)
    cached = model.wanted_cache.get(key)
    if cached is None:
        cached = resolve_wanted(model.resolver, jobs, naf)
        if len(model.wanted_cache) > 4096:
            model.wanted_cache.clear()
        model.wanted_cache[key] = cached
    return cached


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


def match_need(need: str, lycee: LyceeView, wanted: Wanted, *, first_year: bool = False) -> Match | None:
    """How relevant one lycée is for one need (None when it is not). A "2nde commune" counts only for
    PFMP, and a speciality only inferred from one for any need, both only when the caller says no lycée
    listing the trade itself is within reach (``first_year``)."""
    m = Match(lycee)
    m.welcomes_service = need in lycee.services
    if wanted.per_job:
        offers, inferred = lycee.offers, lycee.inferred

        def fit(cfd: str) -> float:
            factor = _track_factor(need, lycee, offers[cfd])
            if cfd in inferred:  # only known through the lycée's "2nde commune": like one
                return factor * INFERRED_OFFER if first_year else 0.0
            return factor

        relevance, cfds = offer_relevance(wanted, offers, first_year=first_year and need == "pfmp", factor=fit)
        if relevance > 0:
            m.cfds = cfds
            m.relevance = relevance  # a sector's jobs already weigh less (shared.reference.jobs)
    if need not in JOB_NEEDS and m.welcomes_service:
        m.relevance = min(1.0, max(m.relevance, 0.5) + (0.2 if m.cfds else 0.0))
    if m.relevance <= 0:
        return None
    if m.welcomes_service:
        m.reasons.append(f"le lycée indique être ouvert à {NEED_SERVICE_LABELS.get(need, need)}")
    return m
