"""Reminders and escalation, computed from persisted timestamps (restart-safe, idempotent):

* the lead has not answered after ``reminder_working_days`` working days: one reminder;
* after ``escalation_working_days``: the assignment expires (AssignmentChanged ``expired``; the
  matcher moves the lead role) and the company is told;
* after ``give_up_days`` calendar days without any answer: the company is told and the
  académie's fallback contact is copied.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from services.notifier import metrics
from services.notifier import repository as repo
from services.notifier.models import Thread
from services.notifier.service.mailer import (
    NotifierContext,
    author_label,
    new_entry,
    publish_assignment,
    publish_thread_message,
    queue_copy,
)
from services.notifier.service.threads import _ensure_fallback
from shared.contracts.events import ThreadMessageKind


def open_thread_ids(session: Session, ctx: NotifierContext) -> list[str]:
    """The threads ``remind_thread`` may have something to do for (a superset, read in SQL): ``n``
    working days after a moment are at least ``n`` calendar days after it, less an hour at a
    change to summer time, so one day of margin is kept. Visiting every thread ever opened cost
    ~0.36 ms per thread and per pass (B42-notifier)."""
    now, s = ctx.now(), ctx.settings
    first_step = min(s.reminder_working_days, s.escalation_working_days)
    return repo.threads_to_check(session, lead_since_before=now - timedelta(days=max(0, first_step - 1)),
                                 routed_before=now - timedelta(days=max(0, s.give_up_days - 1)))


def remind_thread(session: Session, ctx: NotifierContext, thread_id: str) -> list[str]:
    """One pass over one thread; returns the steps taken (for logs and the CLI). The thread's row
    is locked first: two instances passing at once would both see a due reminder otherwise."""
    thread = repo.lock_thread(session, thread_id)
    if thread is None or thread.erased:
        return []
    now, cal, s = ctx.now(), ctx.calendar, ctx.settings
    steps: list[str] = []
    for lead in repo.participants(session, thread.id, active_only=True):
        if lead.role != "lead" or lead.status != "pending" or lead.lead_since is None:
            continue
        if lead.expired_at is None and now >= cal.add_working_days(lead.lead_since, s.escalation_working_days):
            lead.status, lead.expired_at = "expired", now
            session.add(lead)
            publish_assignment(session, thread, lead, "expired", note="Pas de réponse dans les délais")
            _tell_company(session, ctx, thread, "escalation", "expiry",
                          f"{author_label(lead)} n'a pas encore pu répondre à votre demande. Nous la transmettons "
                          "à un autre établissement pour qu'elle ne reste pas sans suite.")
            steps.append("expiry")
        elif lead.reminded_at is None and now >= cal.add_working_days(lead.lead_since, s.reminder_working_days):
            lead.reminded_at = now
            session.add(lead)
            entry = new_entry(session, thread, "reminder", text="Relance", at=now)
            queue_copy(session, ctx, thread, entry, lead, "notice", notice="reminder", text="")
            steps.append("reminder")
    if thread.first_answer_at is None and thread.gave_up_at is None \
            and now >= thread.routed_at + timedelta(days=s.give_up_days):
        thread.gave_up_at = now
        session.add(thread)
        fallback = _ensure_fallback(session, ctx, thread)
        text = (f"Votre demande est restée sans réponse depuis {s.give_up_days} jours. Nous en sommes désolés : "
                "le référent entreprises de l'académie en est informé et va chercher une solution avec vous.")
        entry = _tell_company(session, ctx, thread, "status", "give_up", text)
        if fallback is not None:
            queue_copy(session, ctx, thread, entry, fallback, "rbe_request", intro="give_up")
        steps.append("give_up")
    for step in steps:
        metrics.REMINDERS.labels(step).inc()
    session.flush()
    return steps


def _tell_company(session: Session, ctx: NotifierContext, thread: Thread, kind: ThreadMessageKind, notice: str, text: str):
    entry = new_entry(session, thread, "escalation" if kind == "escalation" else "giveup", text=text, at=ctx.now())
    company = next((p for p in repo.participants(session, thread.id, active_only=True) if p.role == "company"), None)
    row = None
    if company is not None:
        row = queue_copy(session, ctx, thread, entry, company, "notice", notice=notice, text=text)
    publish_thread_message(session, ctx, thread, entry, kind, text=text, message_id=row.message_id if row else None)
    return entry
