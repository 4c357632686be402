"""An admin or an académie referent routes a request by hand (review queue, unanswered requests)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlmodel import Session

from services.matcher import repository as repo
from services.matcher.config import MatcherSettings
from services.matcher.models import RoutedRequest, RoutingDecision
from services.matcher.service.assignments import store_assignments
from services.matcher.service.flows import Outcome, routed_event
from services.matcher.service.readmodel import CatalogReadModel
from services.matcher.service.routing import Candidate, select
from shared.contracts.events import RequestSubmitted
from shared.platform.ids import time_ordered_uuid
from shared.platform.outbox import add_to_outbox
from shared.reference.geo import haversine_km


class ManualRouteError(ValueError):
    """A French message for the admin; nothing was stored."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def route_manually(session: Session, request_id: str, uais: list[str], model: CatalogReadModel,
                   settings: MatcherSettings, now: datetime | None = None) -> Outcome:
    now = now or datetime.now(UTC)
    item = repo.get_review(session, request_id)
    req_row = repo.get_request(session, request_id)
    if item is None or req_row is None:
        raise ManualRouteError("Cette demande n'est pas dans la file de revue.", 404)
    if item.resolved_at is not None:
        raise ManualRouteError("Cette demande a déjà été routée.", 409)
    outcome = route_to_lycees(session, req_row, uais, model, now, chosen_by="un administrateur")
    repo.resolve_review(session, item)
    return outcome


def route_to_lycees(session: Session, req_row: RoutedRequest, uais: list[str], model: CatalogReadModel,
                    now: datetime, chosen_by: str, academie: str | None = None) -> Outcome:
    """Assign the request to the RBEs of ``uais`` (the first leads unless a lead is still pending) and
    publish the RequestRouted the notifier threads. ``academie``: every lycée must belong to it."""
    request_id = req_row.request_id
    if req_row.erased_at is not None:
        raise ManualRouteError("Les données de cette demande ont été effacées.", 409)
    unknown = [u for u in uais if u not in model.lycees]
    if unknown:
        raise ManualRouteError("UAI inconnu(s) dans le catalogue : " + ", ".join(unknown))
    elsewhere = [u for u in uais if academie is not None and model.lycees[u].academie != academie]
    if elsewhere:
        raise ManualRouteError(f"Lycée(s) hors de l'académie de {academie} : " + ", ".join(elsewhere))
    request = RequestSubmitted.model_validate_json(req_row.payload)
    lat, lon = request.location.latitude, request.location.longitude
    candidates = []
    for rank_, uai in enumerate(dict.fromkeys(uais)):
        ly = model.lycees[uai]
        distance = haversine_km(lat, lon, ly.latitude, ly.longitude) if lat is not None and lon is not None else 0.0
        candidates.append(Candidate(
            uai=uai, lycee=ly.name, family=ly.family, rbe_id=ly.rbe_id, rbe_email=ly.rbe_email,
            rbe_name=ly.rbe_name, is_generic_contact=ly.is_generic_contact, distance_km=round(distance, 1),
            relevance=0.0, score=float(100 - rank_), formations=[], reasons=[f"choisi par {chosen_by}"],
        ))
    existing = repo.assignments_of(session, request_id)
    plans = select(candidates, max(len(candidates), 1), excluded_rbes={a.rbe_id for a in existing})
    if not plans:
        raise ManualRouteError("Ces lycées ont déjà été sollicités pour cette demande.", 409)
    if any(a.role == "lead" and a.status == "pending" for a in existing):
        for plan in plans:
            plan.role = "copy"
    routing_id = str(time_ordered_uuid())
    explanation = f"Demande confiée à la main ({chosen_by}) à : " + ", ".join(
        name for p in plans for name in p.lycees)
    repo.add(session, RoutingDecision(
        id=routing_id, request_id=request_id, kind="manual", explanation=explanation,
        candidates=json.dumps([c.as_json() for c in candidates], ensure_ascii=False),
    ))
    assignments = store_assignments(session, request_id, routing_id, plans, candidates, now, model=model)
    add_to_outbox(session, routed_event(request, routing_id, "escalation", req_row.academie, assignments,
                                        explanation, None))
    need = request.needs[0] if request.needs else "autre"
    return Outcome("routed", need, req_row.academie or "inconnue", len(assignments))
