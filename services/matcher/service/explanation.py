"""What a routing decision says in French: the path from typed text to diplomas, and why these lycées."""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.matcher.service.readmodel import CatalogReadModel
from services.matcher.service.relevance import wanted_for
from shared.reference.jobs import FormationLink, Understanding
from shared.reference.jobs.wanted import Wanted

if TYPE_CHECKING:
    from services.matcher.service.routing import Decision, RoutingQuery


def understood_paths(model: CatalogReadModel, jobs: list[str], naf: str | None) -> list[str]:
    taught = model.resolver.links.taught_cfds
    return [path(u, taught) for u in wanted_for(model, jobs, naf).understood]


def best_formations(u: Understanding, taught: frozenset[str], n: int) -> list[FormationLink]:
    """The ``n`` formations that say what the text was understood as: those lycées teach first, since they
    are the ones routing reads (« vendeur » named a CS boulangerie spécialisée no lycée teaches)."""
    return sorted(u.formations.values(), key=lambda f: (f.cfd not in taught, -f.weight, f.label))[:n]


def understood_json(u: Understanding, taught: frozenset[str]) -> dict:
    best = best_formations(u, taught, 3)
    return {"text": u.text, "status": u.status, "message": u.message, "romes": u.romes,
            "formations": [{"cfd": f.cfd, "label": f.label, "why": f.why} for f in best]}


def path(u: Understanding, taught: frozenset[str]) -> str:
    """« boulangé » → Boulanger / Boulangère (D1102) → CAP Boulanger (Certif Info (rang 1) et ONISEP)."""
    if u.status == "inconnu":
        return f"« {u.text[:60]} » non reconnu"
    jobs = ", ".join(f"{j.label} ({j.rome})" for j in u.jobs[:3]) or u.summary
    best = best_formations(u, taught, 2)
    diplomas = ", ".join(f"{f.label} ({f.why})" for f in best)
    head = "secteur d'activité" if u.from_sector else f"« {u.text[:60]} »"
    return f"{head} → {jobs}" + (f" → {diplomas}" if diplomas else "")


def explain(model: CatalogReadModel, query: RoutingQuery, decision: Decision, wanted: Wanted) -> str:
    where = query.commune_name or "la commune de l'entreprise"
    if wanted.understood:
        taught = model.resolver.links.taught_cfds
        asked = "compris : " + " ; ".join(path(u, taught) for u in wanted.understood)
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
