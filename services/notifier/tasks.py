"""Boundaries for the periodic work: one reminder pass, one outcome pass (one transaction per thread)."""

from __future__ import annotations

from sqlalchemy import Engine

from services.notifier.outcomes import questions
from services.notifier.service.mailer import NotifierContext
from services.notifier.service.reminders import open_thread_ids, remind_thread
from shared.platform.db import unit_of_work
from shared.platform.logging import correlation_scope, get_logger

log = get_logger(__name__)


def reminder_pass(engine: Engine, ctx: NotifierContext) -> dict[str, int]:
    counts: dict[str, int] = {"reminder": 0, "expiry": 0, "give_up": 0}
    with unit_of_work(engine) as session:
        ids = open_thread_ids(session, ctx)
    for thread_id in ids:
        with correlation_scope(None):
            try:
                with unit_of_work(engine) as session:
                    steps = remind_thread(session, ctx, thread_id)
            except Exception as exc:
                log.warning("reminder_failed", thread_id=thread_id, error=type(exc).__name__)
                continue
            for step in steps:
                counts[step] += 1
                log.info("reminder_step", thread_id=thread_id, step=step)
    return counts


def outcome_pass(engine: Engine, ctx: NotifierContext) -> dict[str, int]:
    """Ask « Qu'est-ce qui en est sorti ? » where it is due: round 1 per taken thread, round 2 per
    « rien pour l'instant ». Returns the number of emails queued per round."""
    counts = {"asked": 0, "asked_again": 0}
    with unit_of_work(engine) as session:
        first, again = questions.threads_due(session, ctx), questions.questions_due_again(session, ctx)
    for key, ids, ask in (("asked", first, questions.ask_first), ("asked_again", again, questions.ask_again)):
        for item_id in ids:
            with correlation_scope(None):
                try:
                    with unit_of_work(engine) as session:
                        counts[key] += ask(session, ctx, item_id)
                except Exception as exc:  # one thread's failure never stops the others
                    log.warning("outcome_question_failed", item_id=item_id, error=type(exc).__name__)
    return counts
