"""Use cases run inside the boundary's transaction: route, follow up, escalate, route by hand, erase.

They read and write through the repository and stage events in the outbox; the boundary commits.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from services.matcher import repository as repo
from services.matcher.config import MatcherSettings
from services.matcher.models import RoutedRequest, RoutingDecision
from services.matcher.service import followup
from services.matcher.service.assignments import month_of, recipient_of, store_assignments
from services.matcher.service.explanation import understood_paths
from services.matcher.service.readmodel import CatalogReadModel
from services.matcher.service.routing import (
    Candidate,
    Decision,
    RoutingQuery,
    decide,
    select,
)
from shared.contracts.events import (
    AssignmentChanged,
    RequestErased,
    RequestRouted,
    RequestSubmitted,
    RoutedRecipient,
)
from shared.platform.clock import utcnow
from shared.platform.db import insert_raw, table_of
from shared.platform.ids import time_ordered_uuid
from shared.platform.outbox import add_to_outbox, delete_published_about
from shared.reference.geo import fold, load_communes, territory_of
from shared.reference.pilot import outside_recipient

# A transfer keeps the lead role with the colleague it names (the notifier puts the colleague in the
# thread under the same assignment): only a decline or an expired deadline moves the lead elsewhere.
ESCALATING_STATUSES = {"declined", "expired"}
COPY_MARGIN = 0.1  # a copy recipient leads after a decline when it is this much more relevant than the next candidate
# Written on every routing by the driver's own executemany (shared.platform.db.RawInsert, same transaction):
# SQLAlchemy's execution of a one-row Core INSERT cost about twice the statement's own work.
_REQUESTS = table_of(RoutedRequest)
_DECISIONS = table_of(RoutingDecision)


@dataclass(slots=True)
class Outcome:
    """What happened, for metrics after commit (bounded labels only)."""

    outcome: str  # routed, unroutable, outside_pilot, followup, escalated, skipped
    need: str = "autre"
    academie: str = "inconnue"
    recipients: int = 0
    delay_s: float | None = None
    decision_s: float | None = None
    in_pilot: bool = True


def company_key(event: RequestSubmitted) -> str | None:
    if event.siret:
        digits = "".join(c for c in event.siret if c.isdigit())
        if digits:
            return "siret:" + digits
    return "email:" + fold(event.contact.email).replace(" ", "") if event.contact.email else None


def build_query(event: RequestSubmitted) -> RoutingQuery | None:
    loc = event.location
    communes = load_communes()
    commune = communes.resolve(loc.postal_code, loc.commune_insee)
    lat, lon = loc.latitude, loc.longitude
    if (lat is None or lon is None) and commune is not None:
        lat, lon = commune.latitude, commune.longitude
    departement = loc.departement or (commune.departement if commune else None)
    if lat is None or lon is None or not departement:
        return None
    territoire = communes.territoire(departement)
    return RoutingQuery(
        request_id=event.request_id, needs=list(event.needs), jobs=list(event.jobs), naf=event.naf,
        latitude=lat, longitude=lon, territory=territory_of(departement),
        academie=territoire.academie if territoire else None,
        commune_name=loc.commune_name or (commune.name if commune else None),
        radius_km=event.radius_km, preferred_uai=event.preferred_uai, period=event.period,
    )


def academie_of(event: RequestSubmitted) -> str | None:
    query = build_query(event)
    return query.academie if query else None


def fallback_for(model: CatalogReadModel | None, academie: str | None, settings: MatcherSettings) -> str:
    if model and academie and academie in model.academie_fallbacks:
        return model.academie_fallbacks[academie]
    return settings.fallback_email


def run_decision(model: CatalogReadModel, query: RoutingQuery, settings: MatcherSettings,
                 loads: dict[str, int], now: datetime) -> tuple[Decision, float]:
    started = time.perf_counter()
    decision = decide(model, query, k=settings.max_lycees, steps=settings.radius_steps_km, loads=loads,
                      today=now.date(), keep=settings.kept_candidates)
    return decision, time.perf_counter() - started


def routed_event(req: RequestSubmitted, routing_id: str, kind: str, academie: str | None,
                 recipients: list[RoutedRecipient], explanation: str, fallback: str | None,
                 understood: list[str] | None = None) -> RequestRouted:
    return RequestRouted(
        correlation_id=req.correlation_id, request_id=req.request_id, routing_id=uuid.UUID(routing_id),
        submitted_at=req.submitted_at, kind=kind, needs=req.needs, academie=academie,  # type: ignore[arg-type]
        company_name=req.company_name, contact=req.contact, jobs=req.jobs, message=req.message,
        places=req.places, period=req.period, commune_name=req.location.commune_name,
        recipients=recipients, fallback_email=fallback, unroutable=not recipients, explanation=explanation,
        understood=understood or [], status_url=req.status_url, in_pilot=req.in_pilot, pilot_notice=req.pilot_notice,
    )


def route_submitted(session: Session, event: RequestSubmitted, model: CatalogReadModel,
                    settings: MatcherSettings, now: datetime | None = None) -> Outcome:
    now = now or datetime.now(UTC)
    request_id = str(event.request_id)
    need = event.needs[0] if event.needs else "autre"
    key = company_key(event)
    submitted = event.submitted_at if event.submitted_at.tzinfo else event.submitted_at.replace(tzinfo=UTC)
    stored, original_id = repo.seen_or_repeat(session, request_id, key, set(event.needs),
                                              submitted - timedelta(days=settings.repeat_window_days))
    if stored:
        return Outcome("skipped", need)  # the same request re-submitted under a new event id
    query = build_query(event)
    academie = query.academie if query else None
    insert_raw(session.connection(), _REQUESTS, [dict(
        request_id=request_id, company_key=key, needs=",".join(event.needs), submitted_at=submitted,
        academie=academie, payload=event.model_dump_json(), original_request_id=original_id, erased_at=None,
        created_at=utcnow(),
    )])
    delay = max((now - submitted).total_seconds(), 0.0)
    if original_id is not None:
        return _follow_up(session, event, original_id, model, settings, now, need, delay)
    routing_id = str(time_ordered_uuid())
    if not event.in_pilot:
        # Outside the pilot académies: never to an RBE, to the académie's contact (or the national team).
        explanation = outside_pilot_explanation(academie, event.pilot_notice)
        decision, elapsed = Decision([], [], None, [], academie, explanation, True), 0.0
    elif query is None:
        decision = Decision([], [], None, [], None, "Commune de l'entreprise inconnue : routage impossible.", True)
        elapsed = 0.0
    else:
        decision, elapsed = run_decision(model, query, settings, repo.month_loads(session, month_of(now)), now)
    fallback = fallback_for(model, academie, settings) if decision.unroutable else None
    insert_raw(session.connection(), _DECISIONS, [dict(
        id=routing_id, request_id=request_id, kind="initial", unroutable=decision.unroutable,
        fallback_email=fallback, radius_km=decision.radius_km, explanation=decision.explanation,
        candidates=json.dumps([c.as_json() for c in decision.candidates], ensure_ascii=False),
        romes=",".join(decision.romes)[:400], decision_ms=elapsed * 1000, created_at=utcnow(),
    )])
    assignments = store_assignments(session, request_id, routing_id, decision.recipients, decision.candidates, now,
                                    model=model)
    if decision.unroutable:
        repo.open_review(session, request_id, "unroutable" if event.in_pilot else "outside_pilot", academie, fallback)
    add_to_outbox(session, routed_event(event, routing_id, "initial", academie, assignments,
                                        decision.explanation, fallback, decision.paths))
    outcome = "outside_pilot" if not event.in_pilot else "unroutable" if decision.unroutable else "routed"
    return Outcome(outcome, need, academie or "inconnue", len(assignments), delay, elapsed, event.in_pilot)


def outside_pilot_explanation(academie: str | None, pilot_notice: str | None) -> str:
    """Why no lycée was chosen: the request came from outside the pilot académies."""
    where = f"L'académie {academie}" if academie else "L'académie de l'entreprise"
    told = f" L'entreprise a été prévenue : « {pilot_notice} »" if pilot_notice else ""
    return (f"{where} ne fait pas partie des académies pilotes : la demande n'est pas transmise aux lycées, "
            f"mais à {outside_recipient(academie)}, qui lui trouvera un interlocuteur.{told}")


def _follow_up(session: Session, event: RequestSubmitted, original_id: str, model: CatalogReadModel,
               settings: MatcherSettings, now: datetime, need: str, delay: float) -> Outcome:
    """The repeat's changes go to the thread; a new job or place may route the original afresh."""
    original = repo.get_request(session, original_id)
    if original is None:  # cannot happen: seen_or_repeat found it in this transaction
        return Outcome("skipped", need)
    before = RequestSubmitted.model_validate_json(original.payload)
    changes = followup.request_changes(before, event)
    merged = followup.merged_request(before, event)
    recipients = None
    # Outside the pilot, a repeat goes to the thread only: it is never routed to RBEs.
    query = build_query(merged) if followup.needs_rerouting(changes) and before.in_pilot else None
    if query is not None:
        decision, elapsed = run_decision(model, query, settings, repo.month_loads(session, month_of(now)), now)
        recipients = followup.reroute(session, original, decision, now, elapsed * 1000, model)
    followup.record_merged(session, original, merged)
    add_to_outbox(session, followup.follow_up_event(event, original_id, changes, recipients))
    return Outcome("followup", need, original.academie or "inconnue", len(recipients or []), delay,
                   in_pilot=before.in_pilot)


def escalate(session: Session, event: AssignmentChanged, model: CatalogReadModel | None,
             settings: MatcherSettings, now: datetime | None = None) -> Outcome:
    """The lead declined or let the deadline pass: the next-best untried candidate leads."""
    now = now or datetime.now(UTC)
    row = repo.get_assignment(session, str(event.assignment_id))
    if row is None:
        return Outcome("skipped")
    row.status, row.updated_at = event.status, now
    if event.status == "accepted" and event.role == "lead" and row.role != "lead":
        # A copy RBE took the request (notifier): it leads now, and the former lead's decline no longer escalates.
        for other in repo.assignments_of(session, row.request_id):
            if other.role == "lead" and other.id != row.id:
                other.role, other.updated_at = "copy", now
                repo.add(session, other)
        row.role = "lead"
    repo.add(session, row)
    if event.status not in ESCALATING_STATUSES or row.role != "lead":
        return Outcome("skipped")
    req_row = repo.get_request(session, row.request_id)
    if req_row is None or req_row.erased_at is not None:
        return Outcome("skipped")
    request = RequestSubmitted.model_validate_json(req_row.payload)
    need = request.needs[0] if request.needs else "autre"
    academie = req_row.academie
    row.role = "copy"
    repo.add(session, row)
    existing = repo.assignments_of(session, row.request_id)
    tried_rbes = {a.rbe_id for a in existing}
    tried_families = {f for a in existing for f in a.families.split(",") if f}
    previous = repo.latest_ranked_decision(session, row.request_id)
    candidates = [_candidate_from_json(c) for c in json.loads(previous.candidates)] if previous else []
    for cand in candidates:
        cand.chosen, cand.skipped = False, None
    plans = select(candidates, 1, excluded_rbes=tried_rbes, excluded_families=tried_families)
    relevance = {c.uai: c.relevance for c in candidates}
    pending = sorted((a for a in existing if a.id != row.id and a.status == "pending"),
                     key=lambda a: (-_relevance_of(a.uais.split(","), relevance), a.created_at))
    copy_first = bool(plans and pending) and (
        _relevance_of(pending[0].uais.split(","), relevance) > _relevance_of(plans[0].uais, relevance) + COPY_MARGIN)
    if copy_first:
        plans = []  # a copy recipient training for the job itself leads before a looser untried candidate
    routing_id = str(time_ordered_uuid())
    if plans:
        new = store_assignments(session, row.request_id, routing_id, plans, candidates, now, model=model)
        explanation = (f"Le référent principal ({event.status}) est remplacé par {plans[0].lycees[0]}, "
                       "le candidat suivant le mieux classé qui n'avait pas encore été sollicité.")
        fallback = None
    else:
        promoted = pending[0] if pending else None
        if promoted is not None:
            promoted.role, promoted.updated_at = "lead", now
            repo.add(session, promoted)
            new = [recipient_of(promoted)]
            name = json.loads(promoted.lycees)[0]
            explanation = (f"{name}, déjà en copie, forme au métier demandé mieux que les candidats restants : "
                           "il devient référent principal." if copy_first else
                           f"Plus de candidat non sollicité : {name} devient référent principal.")
            fallback = None
        else:
            new = []
            fallback = fallback_for(model, academie, settings)
            explanation = "Tous les candidats pertinents ont été sollicités : contact de l'académie et file de revue."
            repo.open_review(session, row.request_id, "escalation_exhausted", academie, fallback)
    repo.add(session, RoutingDecision(
        id=routing_id, request_id=row.request_id, kind="escalation", unroutable=not new, fallback_email=fallback,
        radius_km=previous.radius_km if previous else None, explanation=explanation,
        candidates=json.dumps([c.as_json() for c in candidates], ensure_ascii=False),
        romes=previous.romes if previous else "",
    ))
    paths = understood_paths(model, request.jobs, request.naf) if model is not None else []
    add_to_outbox(session, routed_event(request, routing_id, "escalation", academie, new, explanation, fallback, paths))
    return Outcome("escalated", need, academie or "inconnue", len(new))


def _relevance_of(uais: list[str], relevance: dict[str, float]) -> float:
    return max((relevance.get(u, 0.0) for u in uais), default=0.0)


def _candidate_from_json(data: dict) -> Candidate:
    return Candidate(
        uai=data["uai"], lycee=data["lycee"], family=data.get("family") or data["uai"], rbe_id=data["rbe_id"],
        rbe_email=data["rbe_email"], rbe_name=data.get("rbe_name"),
        is_generic_contact=bool(data.get("is_generic_contact")), distance_km=data["distance_km"],
        relevance=data["relevance"], score=data["score"],
        formations=[(f["cfd"], f["label"]) for f in data["formations"]], reasons=list(data["reasons"]),
        chosen=data["chosen"], blocked=data.get("blocked"), skipped=data.get("skipped"),
    )


def erase(session: Session, event: RequestErased) -> bool:
    """Drop the company's personal data; keep what routing statistics need (needs, académie, lycées)."""
    row = repo.get_request(session, str(event.request_id))
    if row is None:
        return False
    data = json.loads(row.payload)
    data["company_name"] = "[effacé]"
    data["contact"] = {"name": "[effacé]", "email": "efface@invalid", "phone": None}
    data["siret"] = None
    data["message"] = ""
    data["location"] = {k: data.get("location", {}).get(k) for k in ("postal_code", "commune_insee", "departement")}
    delete_published_about(session, row.request_id)  # the routed events carry the contact too
    return repo.erase_request(session, row.request_id, json.dumps(data, ensure_ascii=False))
