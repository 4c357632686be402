"""A company sent its request again (same company, a shared need, within the repeat window).

What the repeat changed goes to the thread (needs, jobs, place, period, places, message). When the
job or the place changes whom routing chooses, the original request is routed afresh: RBEs no longer
concerned leave, newcomers join, and the lead stays with whoever led if still concerned (they may
already be talking with the company), else goes to the new decision's lead.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import datetime

from sqlmodel import Session

from services.matcher import repository as repo
from services.matcher.models import RoutedRequest, RoutingDecision
from services.matcher.service.assignments import additional_rbes, recipient_of, store_assignments
from services.matcher.service.readmodel import CatalogReadModel
from services.matcher.service.routing import Decision
from shared.contracts.events import RequestChange, RequestFollowUp, RequestSubmitted, RoutedRecipient
from shared.platform.clock import utcnow
from shared.platform.ids import time_ordered_uuid
from shared.reference.geo import fold, load_communes

# Statuses after which an RBE is out of the request for good: a re-route does not bring them back.
GONE = ("declined", "transferred", "expired")
WITHDRAWN = "withdrawn"  # no longer concerned after the company changed its job or place


def _place(event: RequestSubmitted) -> str:
    loc = event.location
    name = loc.commune_name
    if not name:
        commune = load_communes().resolve(loc.postal_code, loc.commune_insee)
        name = commune.name if commune else None
    code = loc.postal_code or loc.commune_insee or ""
    return f"{name} ({code})" if name and code else (name or code)


def _place_key(event: RequestSubmitted) -> tuple:
    loc = event.location
    commune = load_communes().resolve(loc.postal_code, loc.commune_insee)
    return (commune.insee if commune else loc.postal_code, loc.latitude, loc.longitude, event.radius_km)


def _jobs_key(jobs: list[str]) -> list[str]:
    return [fold(j).strip() for j in jobs if j.strip()]


def request_changes(before: RequestSubmitted, after: RequestSubmitted) -> list[RequestChange]:
    """What ``after`` changes of ``before``, in the order people read a request."""
    changes: list[RequestChange] = []
    if set(after.needs) != set(before.needs):
        changes.append(RequestChange(field="needs", before=",".join(before.needs), after=",".join(after.needs)))
    if _jobs_key(after.jobs) != _jobs_key(before.jobs):
        changes.append(RequestChange(field="jobs", before=", ".join(before.jobs), after=", ".join(after.jobs)))
    if _place_key(after) != _place_key(before):
        changes.append(RequestChange(field="place", before=_place(before), after=_place(after)))
    if (after.period or "").strip() != (before.period or "").strip():
        changes.append(RequestChange(field="period", before=before.period or "", after=after.period or ""))
    if after.places != before.places:
        changes.append(RequestChange(field="places", before=str(before.places or ""), after=str(after.places or "")))
    if after.message.strip() and after.message.strip() != before.message.strip():
        changes.append(RequestChange(field="message", before="", after=after.message.strip()))
    return changes


def merged_request(before: RequestSubmitted, after: RequestSubmitted) -> RequestSubmitted:
    """The original request as it stands now: the repeat's details under the original's identity, so an
    escalation or a manual route later uses the job and place the company asked for last."""
    needs = list(dict.fromkeys([*before.needs, *after.needs]))
    return before.model_copy(update={
        "needs": needs, "jobs": after.jobs or before.jobs, "naf": after.naf or before.naf,
        "location": after.location, "radius_km": after.radius_km, "places": after.places or before.places,
        "period": after.period or before.period, "message": after.message.strip() or before.message,
        "preferred_uai": after.preferred_uai or before.preferred_uai,
    })


def follow_up_event(event: RequestSubmitted, original_id: str, changes: list[RequestChange],
                    recipients: list[RoutedRecipient] | None) -> RequestFollowUp:
    return RequestFollowUp(
        correlation_id=event.correlation_id, request_id=event.request_id,
        original_request_id=uuid.UUID(original_id), message=event.message, changes=changes,
        rerouted=recipients is not None, recipients=recipients or [],
    )


def needs_rerouting(changes: list[RequestChange]) -> bool:
    return any(c.field in ("jobs", "place") for c in changes)


def reroute(session: Session, original: RoutedRequest, decision: Decision, now: datetime, decision_ms: float,
            model: CatalogReadModel | None = None) -> list[RoutedRecipient] | None:
    """Apply ``decision`` (computed for the merged request) to the original request's assignments.
    None when it chooses the RBEs already concerned, or nobody (the current RBEs then stay: a follow-up
    never leaves a company with no one)."""
    existing = {a.rbe_id: a for a in repo.assignments_of(session, original.request_id)}
    active = {rbe: a for rbe, a in existing.items() if a.status not in (*GONE, WITHDRAWN)}
    wanted = [p for p in decision.recipients if not (p.rbe_id in existing and existing[p.rbe_id].status in GONE)]
    if decision.unroutable or not wanted or {p.rbe_id for p in wanted} == set(active):
        return None
    keep_lead = next((a for a in active.values() if a.role == "lead" and a.rbe_id in {p.rbe_id for p in wanted}), None)
    lead_rbe = keep_lead.rbe_id if keep_lead else wanted[0].rbe_id
    for a in active.values():
        if a.rbe_id not in {p.rbe_id for p in wanted}:
            a.status, a.role, a.updated_at = WITHDRAWN, "copy", now
            repo.add(session, a)
    routing_id = str(time_ordered_uuid())
    joining = []
    for plan in wanted:
        role = "lead" if plan.rbe_id == lead_rbe else "copy"
        row = existing.get(plan.rbe_id)
        if row is None:
            joining.append(replace(plan, role=role))
            continue
        if row.status == WITHDRAWN:  # concerned again after an earlier change
            row.status = "pending"
        row.role, row.updated_at = role, now
        repo.add(session, row)
    store_assignments(session, original.request_id, routing_id, joining, decision.candidates, now)
    repo.add(session, RoutingDecision(
        id=routing_id, request_id=original.request_id, kind="reroute", unroutable=False, fallback_email=None,
        radius_km=decision.radius_km, explanation=decision.explanation,
        candidates=json.dumps([c.as_json() for c in decision.candidates], ensure_ascii=False),
        romes=",".join(decision.romes)[:400], decision_ms=decision_ms, created_at=utcnow(),
    ))
    session.flush()
    current = [a for a in repo.assignments_of(session, original.request_id) if a.status not in (*GONE, WITHDRAWN)]
    current.sort(key=lambda a: (a.role != "lead", a.created_at))
    recipients = [recipient_of(a) for a in current]
    if model is None:
        return recipients
    # The concerned lycées' other confirmed RBEs follow the request to its new lycées (issue 22).
    return [r.model_copy(update={"additional_rbes": extra})
            for r, extra in zip(recipients, additional_rbes(model, recipients), strict=True)]


def record_merged(session: Session, original: RoutedRequest, merged: RequestSubmitted) -> None:
    original.payload = merged.model_dump_json()
    original.needs = ",".join(merged.needs)
    repo.add(session, original)
