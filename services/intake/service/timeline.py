"""The status page's timeline, built from the events intake consumes."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session

from services.intake import repository
from services.intake.models import CompanyRequest, TimelineEntry
from shared.contracts.changes import change_lines
from shared.contracts.events import AssignmentChanged, RequestFollowUp, RequestRouted, ThreadMessage
from shared.contracts.request_schema import NEED_LABELS

ROLE_LABELS = {"lead": "référent principal", "copy": "en copie"}
ASSIGNMENT_TITLES = {
    "accepted": "{who} a pris en charge votre demande",
    "declined": "{who} ne peut pas donner suite",
    "transferred": "{who} a transmis votre demande à un collègue",
    "expired": "{who} n'a pas répondu à temps : votre demande est relancée",
    "answered": "{who} vous a répondu",
    "pending": "{who} a reçu votre demande",
}
# Thread messages that repeat what another event already put on the timeline: an RBE's « Je m'en
# occupe » (AssignmentChanged accepted), and an escalation (AssignmentChanged expired/declined, then
# RequestRouted escalation naming the new lead). Shown once, from the structured event.
ECHOED_AUTHORS = {"status": ("lead", "copy"), "escalation": ("system",)}
STATUS_LABELS = {
    "received": "Reçue", "routed": "Transmise aux lycées", "answered": "Réponse reçue",
    "closed": "Clôturée", "erased": "Données supprimées",
}


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def status_of(request: CompanyRequest) -> str:
    if request.anonymised_at:
        return "erased"
    if request.closed_at:
        return "closed"
    if request.first_answered_at:
        return "answered"
    if request.first_routed_at:
        return "routed"
    return "received"


def _mark_answered(session: Session, request: repository.RequestState, at: datetime) -> None:
    if request.first_answered_at is None or _aware(request.first_answered_at) > _aware(at):
        repository.update_request(session, request.id, first_answered_at=at)


def apply_routed(session: Session, event: RequestRouted) -> None:
    request = repository.lock_request_state(session, str(event.request_id))
    if request is None:
        return
    at = event.occurred_at
    # Streams are consumed concurrently: an assignment change may have been recorded first, without
    # the lycées' names. One query for all the recipients, before this event stages anything.
    named = {str(r.assignment_id): r for r in event.recipients if r.lycees}
    earlier = repository.assignment_entries(session, request.id, list(named)) if named else []
    changes: dict[str, object] = {}
    if request.first_routed_at is None:
        changes["first_routed_at"] = at
    if event.academie and not request.academie:
        changes["academie"] = event.academie
    if changes:
        repository.update_request(session, request.id, **changes)
    prefix = "Relance : transmise à" if event.kind == "escalation" else "Transmise à"
    repository.add_entry(session, *(
        repository.entry_row(
            request.id, at, "routed",
            f"{prefix} {', '.join(r.lycees) or r.rbe_name or 'un lycée'} ({ROLE_LABELS[r.role]})",
            assignment_id=str(r.assignment_id), lycees=list(r.lycees))
        for r in event.recipients
    ))
    for entry in earlier:
        r = named[entry.assignment_id]
        if not entry.lycees and entry.assignment_status in ASSIGNMENT_TITLES:
            repository.name_entry(session, entry.id, list(r.lycees),
                                  ASSIGNMENT_TITLES[entry.assignment_status].format(who=", ".join(r.lycees)))
    if not event.recipients:
        title = ("Transmise au référent entreprises de l'académie, qui cherche le bon lycée" if event.in_pilot else
                 "Hors des académies pilotes : transmise au référent entreprises de l'académie (ou à l'équipe "
                 "nationale), qui cherche le bon lycée")
        repository.add_entry(session, repository.entry_row(request.id, at, "routed", title))


def apply_followup(session: Session, event: RequestFollowUp) -> None:
    new = repository.get_request(session, str(event.request_id))
    original = repository.get_request(session, str(event.original_request_id))
    if new is not None:
        repository.add_entry(session, TimelineEntry(
            request_id=new.id, at=event.occurred_at, kind="followup",
            title=("Rattachée à votre demande précédente, mise à jour : les lycées concernés ont changé"
                   if event.rerouted else "Rattachée à votre demande précédente : les mêmes lycées la suivent"),
        ))
        if original is not None and original.first_routed_at and new.first_routed_at is None:
            new.first_routed_at = event.occurred_at
            session.add(new)
    if original is not None:
        repository.add_entry(session, TimelineEntry(
            request_id=original.id, at=event.occurred_at, kind="followup",
            title="Vous avez renouvelé cette demande",
            text="" if original.anonymised_at else "\n".join([*change_lines(event.changes), event.message])[:2000].strip(),
        ))


def apply_assignment(session: Session, event: AssignmentChanged) -> None:
    request = repository.lock_request_state(session, str(event.request_id))
    if request is None:
        return
    routed = repository.routed_entry(session, request.id, str(event.assignment_id))
    lycees = list(routed.lycees) if routed else []
    who = ", ".join(lycees) or "Le lycée"
    if event.status == "answered":
        _mark_answered(session, request, event.occurred_at)
        return  # the reply itself is on the timeline (« Réponse de … », with its text): once is enough
    repository.add_entry(session, TimelineEntry(
        request_id=request.id, at=event.occurred_at, kind="assignment",
        title=ASSIGNMENT_TITLES[event.status].format(who=who), assignment_id=str(event.assignment_id),
        assignment_status=event.status, lycees=lycees,
    ))


def apply_message(session: Session, event: ThreadMessage) -> None:
    request = repository.lock_request_state(session, str(event.request_id))
    if request is None:
        return
    if event.kind == "reply" and event.author_role in {"lead", "copy"}:
        _mark_answered(session, request, event.sent_at)
    if event.author_role in ECHOED_AUTHORS.get(event.kind, ()):
        return  # the same step already came as an assignment change or a routing (see ECHOED_AUTHORS)
    titles = {
        "acknowledgement": "Accusé de réception", "reply": "Réponse de {who}", "reminder": "Relance envoyée",
        "escalation": "Votre demande est transmise plus largement", "status": "Information",
    }
    if event.author_role == "company":
        title = "Votre message"
    else:
        title = titles[event.kind].format(who=event.author_label)
    repository.add_entry(session, repository.entry_row(
        request.id, event.sent_at, "message", title[:300],
        text="" if request.anonymised_at else event.text[:5000], author=event.author_label[:200],
    ))


def close(session: Session, request: CompanyRequest, now: datetime | None = None) -> None:
    if request.closed_at or request.anonymised_at:
        return
    now = now or datetime.now(UTC)
    request.closed_at = now
    session.add(request)
    repository.add_entry(session, TimelineEntry(request_id=request.id, at=now, kind="closed",
                                                title="Demande clôturée à votre demande"))


def status_view(session: Session, request: CompanyRequest, status_url: str) -> dict:
    """What the status page and its JSON show: the timeline, and the request only while not erased."""
    status = status_of(request)
    erased = status == "erased"
    return {
        "request_id": request.id,
        "status": status,
        "status_label": STATUS_LABELS[status] if request.in_pilot or status != "routed"
        else "Transmise au référent entreprises de l'académie",
        "status_url": status_url,
        "submitted_at": _aware(request.created_at).isoformat(),
        "needs": [{"code": n, "label": NEED_LABELS.get(n, n)} for n in request.needs],
        "jobs": [] if erased else list(request.jobs),
        "commune": request.commune_name,
        "postal_code": request.postal_code,
        "company_name": None if erased else request.company_name,
        "places": request.places,
        "period": request.period,
        "in_pilot": request.in_pilot,
        "academie": request.academie,
        "timeline": [
            {"at": _aware(e.at).isoformat(), "kind": e.kind, "title": e.title, "text": e.text or None,
             "author": e.author}
            for e in repository.timeline(session, request.id)
        ],
    }
