"""One-click actions from RBE emails: « Je m'en occupe », « Ce n'est pas pour nous »,
« Transférer à un collègue ». A token is signed, expires, and applies once.

Coordination: whoever accepts becomes the lead (the one who answers the company). A copy RBE who
accepts while nobody handles the request takes the lead role; the former lead becomes a copy, is
told, and gets no more reminders. Once someone handles the request, a later « Je m'en occupe »
changes nothing and says who handles it."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlmodel import Session

from services.notifier import metrics
from services.notifier import repository as repo
from services.notifier.models import ActionUse, Participant, Thread
from services.notifier.service.addresses import ActionClaim, ActionTokenError, read_action_token
from services.notifier.service.mailer import (
    RBE_ROLES,
    NotifierContext,
    author_label,
    new_entry,
    publish_assignment,
    publish_thread_message,
    queue_copy,
)
from services.notifier.service.threads import _participant

ALLOWED = {"accept": ("pending",), "decline": ("pending", "accepted", "answered"),
           "transfer": ("pending", "accepted", "answered")}
LABELS = {"accept": "Je m'en occupe", "decline": "Ce n'est pas pour nous", "transfer": "Transférer à un collègue"}
HANDLING = ("accepted", "answered")  # statuses of an RBE who handles the request


class ActionRefused(Exception):
    """reason: invalid | expired | used | erased | declined | transferred | timed_out | withdrawn | already_yours |
    answered | taken | not_yours | bad_email. ``who``: whom the message names (who handles the request
    now, the colleague it went to); ``status``: that person's status (taken), or why the request was
    erased; ``detail``: which bad address (own_email)."""

    def __init__(self, reason: str, *, who: str | None = None, detail: str | None = None,
                 status: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.who, self.detail, self.status = reason, who, detail, status


@dataclass
class PendingAction:
    claim: ActionClaim
    thread: Thread
    participant: Participant

    @property
    def label(self) -> str:
        return LABELS[self.claim.action]


def check(session: Session, ctx: NotifierContext, token: str) -> PendingAction:
    """Validate a token without changing anything (a GET, or a mail scanner prefetching the link)."""
    try:
        claim = read_action_token(ctx.settings.secret_key, token, ctx.settings.action_ttl_days * 86400)
    except ActionTokenError as exc:
        raise ActionRefused(exc.reason) from exc
    if repo.action_used(session, claim.nonce):
        raise ActionRefused("used")
    person = repo.participant(session, claim.participant_id)
    thread = repo.thread(session, person.thread_id) if person else None
    if person is None or thread is None:
        raise ActionRefused("invalid")
    if thread.erased:
        raise ActionRefused("erased", status=erasure_reason(thread))
    _refuse_if_not_allowed(session, thread, person, claim.action)
    return PendingAction(claim, thread, person)


def erasure_reason(thread: Thread) -> str:
    """Why an erased thread was erased ("company_request" | "retention"), kept by ``threads.erase``."""
    try:
        return str(json.loads(thread.request_summary or "{}").get("erased") or "company_request")
    except ValueError:
        return "company_request"


def _refuse_if_not_allowed(session: Session, thread: Thread, person: Participant, action: str) -> None:
    """Say what actually happened when the action no longer applies to this person."""
    if person.role not in RBE_ROLES:
        raise ActionRefused("not_yours")
    people = repo.participants(session, thread.id)
    if person.status == "declined":
        raise ActionRefused("declined")
    if person.status == "transferred":
        colleague = next((p for p in people if p.assignment_id == person.assignment_id and p.id != person.id
                          and p.active and p.created_at >= person.created_at), None)
        raise ActionRefused("transferred", who=colleague.email if colleague else None)
    lead = next((p for p in people if p.role == "lead" and p.active and p.id != person.id), None)
    if person.status == "expired":
        raise ActionRefused("timed_out", who=author_label(lead) if lead else None)
    if person.status == "withdrawn":  # the company changed its job or place (followups.py)
        raise ActionRefused("withdrawn")
    if not person.active:
        raise ActionRefused("not_yours")
    if action == "accept":
        if person.status == "accepted":
            raise ActionRefused("already_yours")
        if person.status == "answered":
            raise ActionRefused("answered")
        if lead is not None and lead.status in HANDLING:
            raise ActionRefused("taken", who=author_label(lead), status=lead.status)
    if person.status not in ALLOWED[action]:
        raise ActionRefused("not_yours")


def apply(session: Session, ctx: NotifierContext, token: str, transfer_to: str | None = None) -> PendingAction:
    _lock_thread_of(session, ctx, token)
    pending = check(session, ctx, token)
    claim, thread, person = pending.claim, pending.thread, pending.participant
    if claim.action == "transfer":
        if not transfer_to:
            raise ActionRefused("bad_email")
        if transfer_to.strip().lower() == person.email.strip().lower():
            raise ActionRefused("bad_email", detail="own_email")
    repo.add(session, ActionUse(nonce=claim.nonce, participant_id=person.id, action=claim.action))
    metrics.ACTIONS.labels(claim.action).inc()
    if claim.action == "accept":
        _accept(session, ctx, thread, person)
    elif claim.action == "decline":
        person.status, person.active = "declined", False
        session.add(person)
        publish_assignment(session, thread, person, "declined", note="Ce n'est pas pour nous")
    else:
        _transfer(session, ctx, thread, person, (transfer_to or "").strip())
    session.flush()
    return pending


def _lock_thread_of(session: Session, ctx: NotifierContext, token: str) -> None:
    """Lock the thread the token acts on before ``check`` reads its participant: a reminder pass
    or another action on another instance must not decide from the state this one changes."""
    try:
        claim = read_action_token(ctx.settings.secret_key, token, ctx.settings.action_ttl_days * 86400)
    except ActionTokenError:
        return  # check() refuses it with its reason
    thread_id = repo.thread_id_of_participant(session, claim.participant_id)
    if thread_id is not None:
        repo.lock_thread(session, thread_id)


def _accept(session: Session, ctx: NotifierContext, thread: Thread, person: Participant) -> None:
    now = ctx.now()
    people = repo.participants(session, thread.id, active_only=True)
    former = [p for p in people if p.role == "lead" and p.id != person.id]
    if person.role != "lead":  # a copy takes the request: it leads from now on
        for old in former:
            old.role = "copy"
            session.add(old)
        person.role, person.lead_since, person.reminded_at, person.expired_at = "lead", now, None, None
    person.status = "accepted"
    session.add(person)
    publish_assignment(session, thread, person, "accepted", note="Je m'en occupe")
    if thread.first_answer_at is None:
        thread.first_answer_at = now
        metrics.FIRST_ANSWER_SECONDS.observe(max(0.0, (now - thread.routed_at).total_seconds()))
        session.add(thread)
    who = author_label(person)
    text = f"{who} a pris en charge votre demande et revient vers vous."
    if former:
        text += " C'est désormais votre interlocuteur pour cette demande."
    entry = new_entry(session, thread, "status", author=person, text=text, at=now)
    company = next((p for p in people if p.role == "company"), None)
    row = None
    if company is not None:
        row = queue_copy(session, ctx, thread, entry, company, "notice", notice="accepted", text=text)
    if former:  # the lead changed: every other RBE of the thread is told who answers now
        for other in people:
            if other.role not in RBE_ROLES or other.id == person.id:
                continue
            was_lead = other in former
            note = (f"{who} a indiqué s'occuper de cette demande et coordonne désormais la réponse à "
                    "l'entreprise. " + ("Vous n'avez plus à y donner suite et ne recevrez plus de relance à son "
                                        "sujet ; vous restez en copie des échanges et pouvez toujours y répondre."
                                        if was_lead else "Vous restez en copie des échanges."))
            queue_copy(session, ctx, thread, entry, other, "notice", notice="lead_changed", text=note)
    publish_thread_message(session, ctx, thread, entry, "status", author=person, text=text,
                           message_id=row.message_id if row else None)


def _transfer(session: Session, ctx: NotifierContext, thread: Thread, person: Participant, colleague: str) -> None:
    person.status, person.active = "transferred", False
    session.add(person)
    publish_assignment(session, thread, person, "transferred", transfer_to=colleague,
                       note="Transféré à un collègue")
    newcomer = _participant(session, thread, person.role, colleague, label=person.label,
                            assignment_id=person.assignment_id, ctx=ctx)
    text = f"{author_label(person)} a transféré la demande à un collègue."
    entry = new_entry(session, thread, "transfer", author=person, text=text, at=ctx.now())
    queue_copy(session, ctx, thread, entry, newcomer, "rbe_request", intro="transfer", previous=author_label(person))
