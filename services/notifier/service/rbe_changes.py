"""A lycée confirmed a new RBE (the catalog's ``CatalogChanged.rbe_changes``): the RBE joins the lycée's open
threads — those where the lycée's previous address is an active participant — and receives the request with
what was said so far. Idempotent: the consumer's processed-event key, and a thread where the RBE already
takes part is left alone; each new copy is one ``notifier_outbound`` row (one sent-row per email)."""

from __future__ import annotations

from sqlmodel import Session

from services.notifier import repository as repo
from services.notifier.service.followups import _history
from services.notifier.service.mailer import NotifierContext, new_entry, queue_copy, thread_context
from services.notifier.service.threads import _participant
from shared.contracts.events import CatalogChanged, RbeChange


def _concerns(label: str, change: RbeChange) -> bool:
    """A participant's label lists its lycées' names: an RBE covering several lycées is only replaced in the
    threads of the lycée that named someone (a label-less participant is taken as concerned)."""
    return not label or change.lycee_name.lower() in label.lower()


def join_new_rbe(session: Session, ctx: NotifierContext, event: CatalogChanged) -> int:
    """Returns the number of threads the new RBEs joined."""
    joined = 0
    for change in event.rbe_changes:
        if not change.previous_email or change.previous_email.lower() == change.new_email.lower():
            continue
        for previous in repo.active_school_participants(session, change.previous_email):
            if not _concerns(previous.label, change):
                continue
            thread = repo.thread(session, previous.thread_id)
            if thread is None or thread.erased:
                continue
            everyone = repo.participants(session, thread.id)
            if any(p.active and p.email.lower() == change.new_email.lower() for p in everyone):
                continue
            history = _history(session, thread, everyone)
            person = _participant(
                session,
                thread,
                "copy",
                change.new_email,
                name=change.new_name,
                label=previous.label or change.lycee_name,
                ctx=ctx,
            )
            who = change.new_name or change.new_email
            entry = new_entry(
                session,
                thread,
                "status",
                author=None,
                at=ctx.now(),
                text=f"{who}, responsable du bureau des entreprises ({change.lycee_name}), "
                "rejoint l'échange.",
            )
            session.flush()
            shared = thread_context(session, thread)
            queue_copy(
                session,
                ctx,
                thread,
                entry,
                person,
                "rbe_request",
                shared=shared,
                first_copy=True,
                intro="new_rbe",
                history=history,
            )
            joined += 1
    return joined
