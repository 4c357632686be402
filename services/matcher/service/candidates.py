"""The K chosen lycées: candidates as explained to the company and the RBEs, and their selection (one per
establishment, one assignment per RBE)."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass


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
