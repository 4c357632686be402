"""What an académie referent does in a request's thread, from the back-office (catalog, over HTTP):
write to the company (one message in the thread, to every active participant), relay a held reply or
set it aside. Each action is audited (``ReferentAction``: who, when, what) and keyed by the back-office's
idempotency key; the thread is locked first, so two referents acting at once are serialised and the
second finds the work done. Runs in the boundary's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from services.notifier import repository as repo
from services.notifier.models import ReferentAction, Thread
from services.notifier.service import senders
from services.notifier.service.mailer import NotifierContext, new_entry, publish_thread_message, queue_copy

PARIS = ZoneInfo("Europe/Paris")


class ReferentRefused(Exception):
    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Actor:
    email: str
    name: str | None
    academie: str | None  # the referent's académie: the thread must be in it

    @property
    def label(self) -> str:
        who = self.name or self.email
        return f"{who}, référent(e) entreprises de l'académie" + (f" de {self.academie}" if self.academie else "")


def _at(moment: datetime) -> str:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(PARIS).strftime("%H:%M")


def _thread(session: Session, request_id: str, actor: Actor) -> Thread:
    found = repo.thread_by_request(session, request_id)
    thread = repo.lock_thread(session, found.id) if found is not None else None
    if thread is None or (actor.academie is not None and thread.academie != actor.academie):
        raise ReferentRefused("Demande inconnue dans votre académie.", 404)
    if thread.erased:
        raise ReferentRefused("Les données de cette demande ont été effacées.", 410)
    return thread


def write_to_company(session: Session, ctx: NotifierContext, request_id: str, key: str, actor: Actor,
                     text: str) -> bool:
    """One message in the thread, to the company and every active participant; False when this key
    was already used (nothing sent again)."""
    if repo.referent_action(session, key) is not None:
        return False
    thread = _thread(session, request_id, actor)
    if repo.referent_action(session, key) is not None:  # the same key, sent twice at once: the other one wrote
        return False
    now = ctx.now()
    entry = new_entry(session, thread, "referent", text=text, at=now)
    company_copy = None
    for person in repo.participants(session, thread.id, active_only=True):
        row = queue_copy(session, ctx, thread, entry, person, "relay", author_label=actor.label, text=text)
        if person.role == "company":
            company_copy = row
    publish_thread_message(session, ctx, thread, entry, "status", text=text,
                           message_id=company_copy.message_id if company_copy else None)
    repo.add(session, ReferentAction(idempotency_key=key, request_id=request_id, action="message", actor=actor.email,
                                     actor_name=actor.name, detail=text[:2000], created_at=now))
    return True


def settle_held(session: Session, ctx: NotifierContext, inbound_id: str, key: str, actor: Actor, release: bool) -> bool:
    """Relay a held reply (as the participant whose address it reached) or set it aside, once. False when
    this key was already used; ReferentRefused (409) when someone else settled it first."""
    if repo.referent_action(session, key) is not None:
        return False
    inbound = repo.inbound(session, inbound_id)
    if inbound is None or not inbound.thread_id:
        raise ReferentRefused("Réponse retenue inconnue.", 404)
    thread = repo.lock_thread(session, inbound.thread_id)
    if thread is None or (actor.academie is not None and thread.academie != actor.academie):
        raise ReferentRefused("Réponse retenue inconnue dans votre académie.", 404)
    session.refresh(inbound)  # read again under the thread's lock
    if repo.referent_action(session, key) is not None:
        return False
    if inbound.outcome != "held":
        done = repo.referent_action_on(session, inbound_id, ("release", "discard"))
        who = f"{done.actor_name or done.actor} à {_at(done.created_at)}" if done else "le participant concerné"
        raise ReferentRefused(f"Déjà traité par {who}.")
    person = repo.participant(session, inbound.participant_id) if inbound.participant_id else None
    if release:
        if person is None:
            raise ReferentRefused("Le destinataire de ce message n'existe plus.", 410)
        senders.relay_held(session, ctx, inbound, thread, person)
    else:
        inbound.outcome = "discarded"
        session.add(inbound)
    repo.add(session, ReferentAction(idempotency_key=key, request_id=thread.request_id,
                                     action="release" if release else "discard", actor=actor.email,
                                     actor_name=actor.name, detail=inbound_id, created_at=ctx.now()))
    return True
