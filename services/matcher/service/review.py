"""An académie referent's actions on a request (back-office): assign to lycées, reroute with a corrected
job or place, close with a reason. Each one is audited (who, when, what) and takes effect once:

* the referent's idempotency key is the audit row's primary key: the same key again gets the stored
  answer (a double click, a retry after a timeout);
* two referents acting on the same request: each names the review item's version their page showed,
  and the first conditional UPDATE wins (``repo.claim_review``); the other is told who acted and when.

Runs in the boundary's transaction: a refusal after the claim (no lycée fits, already asked) rolls it back.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from services.matcher import repository as repo
from services.matcher.config import MatcherSettings
from services.matcher.models import ReviewAction, RoutedRequest, RoutingDecision
from services.matcher.service.assignments import month_of, store_assignments
from services.matcher.service.flows import build_query, routed_event, run_decision
from services.matcher.service.manual import ManualRouteError, route_to_lycees
from services.matcher.service.readmodel import CatalogReadModel
from services.matcher.service.routing import select
from shared.contracts.events import Location, RequestSubmitted
from shared.platform.ids import time_ordered_uuid
from shared.platform.outbox import add_to_outbox
from shared.reference.geo import load_communes

PARIS = ZoneInfo("Europe/Paris")
RESOLUTIONS = {"assign": "assigned", "reroute": "rerouted", "close": "closed"}


@dataclass
class ReviewActionRequest:
    action: str  # assign, reroute, close
    actor: str
    actor_name: str | None
    seen_version: int
    academie: str | None = None  # the referent's académie: the request and the lycées must be in it
    uais: list[str] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)
    postal_code: str | None = None
    reason: str = ""


@dataclass
class ReviewActionResult:
    request_id: str
    action: str
    resolution: str
    assignments: int
    handled_by: str
    handled_by_name: str | None
    handled_at: str  # ISO 8601
    explanation: str = ""
    replayed: bool = False


class AlreadyHandled(ManualRouteError):
    """Someone acted on this request since the referent's page was shown."""

    def __init__(self, who: str, at: datetime | None) -> None:
        when = f" à {(at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(PARIS):%H:%M}" if at else ""
        super().__init__(f"Déjà traité par {who}{when}.", 409)


def act(session: Session, request_id: str, key: str, ask: ReviewActionRequest, model: CatalogReadModel,
        settings: MatcherSettings, now: datetime) -> ReviewActionResult:
    stored = repo.get_action(session, key)
    if stored is not None:
        return _replayed(stored, request_id)
    req_row = repo.get_request(session, request_id)
    if req_row is None or (ask.academie is not None and req_row.academie != ask.academie):
        raise ManualRouteError("Demande inconnue dans votre académie.", 404)
    if req_row.erased_at is not None:
        raise ManualRouteError("Les données de cette demande ont été effacées.", 409)
    _check(ask)
    resolution = RESOLUTIONS[ask.action]
    if not repo.claim_review(session, request_id, ask.seen_version, actor=ask.actor, actor_name=ask.actor_name,
                             resolution=resolution, academie=req_row.academie, now=now):
        stored = repo.get_action(session, key)  # the same key, sent twice at once: the other one acted
        if stored is not None:
            return _replayed(stored, request_id)
        item = repo.get_review(session, request_id)
        raise AlreadyHandled((item.handled_by_name or item.handled_by or "un autre référent") if item else
                             "un autre référent", item.handled_at if item else None)
    who = ask.actor_name or ask.actor
    assignments, explanation = 0, ""
    if ask.action == "assign":
        outcome = route_to_lycees(session, req_row, ask.uais, model, now, chosen_by=f"{who}, référent(e) de l'académie",
                                  academie=ask.academie)
        assignments = outcome.recipients
    elif ask.action == "reroute":
        assignments, explanation = _reroute(session, req_row, ask, model, settings, now)
    result = ReviewActionResult(request_id=request_id, action=ask.action, resolution=resolution,
                                assignments=assignments, handled_by=ask.actor, handled_by_name=ask.actor_name,
                                handled_at=now.isoformat(), explanation=explanation)
    repo.add(session, ReviewAction(
        idempotency_key=key, request_id=request_id, action=ask.action, actor=ask.actor, actor_name=ask.actor_name,
        detail=json.dumps({"uais": ask.uais, "jobs": ask.jobs, "postal_code": ask.postal_code, "reason": ask.reason,
                           "seen_version": ask.seen_version}, ensure_ascii=False),
        result=json.dumps(asdict(result), ensure_ascii=False), created_at=now,
    ))
    return result


def _replayed(stored: ReviewAction, request_id: str) -> ReviewActionResult:
    if stored.request_id != request_id:
        raise ManualRouteError("Cette clé d'idempotence a déjà servi pour une autre demande.", 422)
    return ReviewActionResult(**{**json.loads(stored.result), "replayed": True})


def _check(ask: ReviewActionRequest) -> None:
    if ask.action == "assign" and not ask.uais:
        raise ManualRouteError("Choisissez au moins un lycée.")
    if ask.action == "reroute" and not ask.jobs and not ask.postal_code:
        raise ManualRouteError("Indiquez le métier ou le code postal corrigé.")
    if ask.action == "close" and not ask.reason.strip():
        raise ManualRouteError("Indiquez la raison de la clôture.")


def _reroute(session: Session, req_row: RoutedRequest, ask: ReviewActionRequest, model: CatalogReadModel,
             settings: MatcherSettings, now: datetime) -> tuple[int, str]:
    """Route again with the corrected job or place; the request keeps them (a later escalation uses them)."""
    request = RequestSubmitted.model_validate_json(req_row.payload)
    update: dict = {}
    if ask.jobs:
        update["jobs"] = ask.jobs
    if ask.postal_code:
        commune = load_communes().resolve(ask.postal_code, None)
        if commune is None:
            raise ManualRouteError(f"Code postal inconnu : {ask.postal_code[:10]}.")
        update["location"] = Location(postal_code=ask.postal_code, commune_insee=commune.insee, commune_name=commune.name,
                                      latitude=commune.latitude, longitude=commune.longitude,
                                      departement=commune.departement)
    corrected = request.model_copy(update=update)
    query = build_query(corrected)
    if query is None:
        raise ManualRouteError("Lieu inconnu : routage impossible.")
    decision, elapsed = run_decision(model, query, settings, repo.month_loads(session, month_of(now)), now)
    tried = {a.rbe_id for a in repo.assignments_of(session, req_row.request_id)}
    for cand in decision.candidates:
        cand.chosen, cand.skipped = False, None
    plans = select(decision.candidates, settings.max_lycees, excluded_rbes=tried)
    if not plans:
        raise ManualRouteError("Toujours aucun lycée pertinent non encore sollicité : " + decision.explanation)
    routing_id = str(time_ordered_uuid())
    repo.add(session, RoutingDecision(
        id=routing_id, request_id=req_row.request_id, kind="manual", radius_km=decision.radius_km,
        explanation=decision.explanation, romes=",".join(decision.romes)[:400], decision_ms=elapsed * 1000,
        candidates=json.dumps([c.as_json() for c in decision.candidates], ensure_ascii=False),
    ))
    assignments = store_assignments(session, req_row.request_id, routing_id, plans, decision.candidates, now,
                                    model=model)
    req_row.payload, req_row.academie = corrected.model_dump_json(), query.academie or req_row.academie
    repo.add(session, req_row)
    add_to_outbox(session, routed_event(corrected, routing_id, "escalation", req_row.academie, assignments,
                                        decision.explanation, None, decision.paths))
    return len(assignments), decision.explanation
