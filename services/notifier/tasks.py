"""Boundaries for the periodic work: one reminder pass (one transaction per thread)."""

from __future__ import annotations

from sqlalchemy import Engine

from services.notifier.service.mailer import NotifierContext
from services.notifier.service.reminders import open_thread_ids, remind_thread
from shared.platform.db import unit_of_work
from shared.platform.logging import correlation_scope, get_logger

log = get_logger(__name__)


def reminder_pass(engine: Engine, ctx: NotifierContext) -> dict[str, int]:
    counts: dict[str, int] = {"reminder": 0, "expiry": 0, "give_up": 0}
    with unit_of_work(engine) as session:
        ids = open_thread_ids(session)
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
