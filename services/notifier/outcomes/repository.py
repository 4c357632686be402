"""All SQL of the outcome questions. Functions take the caller's session; none of them commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from services.notifier.models import Thread, ThreadEntry
from services.notifier.outcomes.models import OutcomeQuestion

FIRST_ANSWER_KINDS = ("reply", "status")  # an RBE's email reply, or their « Je m'en occupe »


def threads_to_ask(
    session: Session, taken_from: datetime, taken_until: datetime, limit: int = 500
) -> list[str]:
    """Threads taken in [taken_from, taken_until], not erased, never asked."""
    asked = exists().where(col(OutcomeQuestion.thread_id) == col(Thread.id))
    query = (
        select(Thread.id)
        .where(
            col(Thread.first_answer_at) >= taken_from,
            col(Thread.first_answer_at) <= taken_until,
            col(Thread.erased).is_(False),
            ~asked,
        )
        .order_by(col(Thread.first_answer_at))
        .limit(limit)
    )
    return list(session.exec(query).all())


def questions_to_ask_again(session: Session, answered_until: datetime, limit: int = 500) -> list[str]:
    """Round-1 questions answered « rien pour l'instant » before ``answered_until`` with no round 2 yet."""
    again = aliased(OutcomeQuestion)
    asked_again = exists().where(
        and_(
            col(again.thread_id) == col(OutcomeQuestion.thread_id),
            col(again.participant_id) == col(OutcomeQuestion.participant_id),
            col(again.asked_round) == 2,
        )
    )
    query = (
        select(OutcomeQuestion.id)
        .where(
            OutcomeQuestion.asked_round == 1,
            OutcomeQuestion.kind == "rien_encore",
            col(OutcomeQuestion.answered_at) <= answered_until,
            ~asked_again,
        )
        .order_by(col(OutcomeQuestion.answered_at))
        .limit(limit)
    )
    return list(session.exec(query).all())


def first_answerer_id(session: Session, thread_id: str) -> str | None:
    """The RBE whose reply or « Je m'en occupe » was the thread's first human answer."""
    query = (
        select(ThreadEntry.author_participant_id)
        .where(
            ThreadEntry.thread_id == thread_id,
            col(ThreadEntry.kind).in_(FIRST_ANSWER_KINDS),
            col(ThreadEntry.author_role).in_(("lead", "copy")),
            col(ThreadEntry.author_participant_id).is_not(None),
        )
        .order_by(col(ThreadEntry.created_at))
        .limit(1)
    )
    return session.exec(query).first()


def questions_of(session: Session, thread_id: str) -> list[OutcomeQuestion]:
    query = (
        select(OutcomeQuestion)
        .where(OutcomeQuestion.thread_id == thread_id)
        .order_by(col(OutcomeQuestion.asked_round), col(OutcomeQuestion.respondent))
        .execution_options(populate_existing=True)
    )
    return list(session.exec(query).all())


def question(session: Session, question_id: str) -> OutcomeQuestion | None:
    query = (
        select(OutcomeQuestion)
        .where(OutcomeQuestion.id == question_id)
        .execution_options(populate_existing=True)
    )
    return session.exec(query).first()


def wipe_notes(session: Session, thread_id: str) -> None:
    """The free texts speak of the request: erased with it."""
    session.execute(
        update(OutcomeQuestion).where(col(OutcomeQuestion.thread_id) == thread_id).values(note="")
    )
