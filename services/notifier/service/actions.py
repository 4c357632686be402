"""One-click actions from RBE emails: « Je m'en occupe », « Ce n'est pas pour nous »,
« Transférer à un collègue ». A token is signed, expires, and applies once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from services.notifier import metrics
from services.notifier import repository as repo
from services.notifier.models import ActionUse, Participant, Thread
from services.notifier.service.addresses import ActionClaim, ActionTokenError, read_action_token
from services.notifier.service.mailer import (
    NotifierContext,
    author_label,
    new_entry,
    publish_assignment,
    publish_thread_message,
    queue_copy,
)
from services.notifier.service.threads import _participant

ALLOWED = {"accept": ("pending",), "decline": ("pending", "accepted", "answered"), "transfer": ("pending", "accepted")}
LABELS = {"accept": "Je m'en occupe", "decline": "Ce n'est pas pour nous", "transfer": "Transférer à un collègue"}


class ActionRefused(Exception):
    """reason: invalid | expired | used | not_yours | bad_email"""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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
    if person is None or thread is None or thread.erased:
        raise ActionRefused("invalid")
    if not person.active or person.status not in ALLOWED[claim.action]:
        raise ActionRefused("not_yours")
    return PendingAction(claim, thread, person)


def apply(session: Session, ctx: NotifierContext, token: str, transfer_to: str | None = None) -> PendingAction:
    _lock_thread_of(session, ctx, token)
    pending = check(session, ctx, token)
    claim, thread, person = pending.claim, pending.thread, pending.participant
    if claim.action == "transfer":
        if not transfer_to or transfer_to.strip().lower() == person.email.lower():
            raise ActionRefused("bad_email")
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
    person.status = "accepted"
    session.add(person)
    publish_assignment(session, thread, person, "accepted", note="Je m'en occupe")
    if thread.first_answer_at is None:
        thread.first_answer_at = now
        metrics.FIRST_ANSWER_SECONDS.observe(max(0.0, (now - thread.routed_at).total_seconds()))
        session.add(thread)
    text = f"{author_label(person)} a pris en charge votre demande et revient vers vous."
    entry = new_entry(session, thread, "status", author=person, text=text, at=now)
    company = next((p for p in repo.participants(session, thread.id, active_only=True) if p.role == "company"), None)
    row = None
    if company is not None:
        row = queue_copy(session, ctx, thread, entry, company, "notice", notice="accepted", text=text)
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
