"""Asking « Qu'est-ce qui en est sorti ? » and recording the answer, inside the caller's transaction.

Asking: ``outcome_delay_days`` after a thread's first human answer, the company and the RBE who gave
that answer each get one question (round 1); an answer « rien pour l'instant » gets one more question
``outcome_again_days`` later (round 2), and that is all. The question rows are unique per
(thread, participant, round) and each email is one ``notifier_outbound`` row (sent after the commit).

Answering: a choice link is signed like the one-click actions; every choice of one question carries the
question's id as nonce, recorded in ``notifier_action_use`` with the answer: the first choice used spends
the question, a replay or another choice afterwards is refused with what was recorded.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session

from services.notifier import metrics
from services.notifier import repository as repo
from services.notifier.models import ActionUse, Participant, Thread
from services.notifier.outcomes import repository as outcomes_repo
from services.notifier.outcomes.models import OutcomeQuestion
from services.notifier.service.actions import erasure_reason
from services.notifier.service.addresses import ActionTokenError, make_outcome_token, read_outcome_token
from services.notifier.service.mailer import RBE_ROLES, NotifierContext, correlation, new_entry, queue_copy
from shared.contracts.events import OUTCOME_KINDS, OUTCOME_LABELS, OutcomeRecorded
from shared.platform.outbox import add_to_outbox

SUBJECT = "Qu'est-ce qui en est sorti ?"
NOTE_MAX = 1000
LAST_ROUND = 2


class OutcomeRefused(Exception):
    """reason: invalid | expired | used | erased; ``kind``: what was recorded (used); ``status``: why the
    request was erased (erased)."""

    def __init__(self, reason: str, *, kind: str | None = None, status: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.kind, self.status = reason, kind, status


@dataclass
class PendingOutcome:
    question: OutcomeQuestion
    thread: Thread
    participant: Participant
    kind: str

    @property
    def label(self) -> str:
        return OUTCOME_LABELS[self.kind]


# ------------------------------------------------------------------ asking
def threads_due(session: Session, ctx: NotifierContext) -> list[str]:
    now, s = ctx.now(), ctx.settings
    latest = now - timedelta(days=s.outcome_delay_days)
    return outcomes_repo.threads_to_ask(session, latest - timedelta(days=s.outcome_window_days), latest)


def questions_due_again(session: Session, ctx: NotifierContext) -> list[str]:
    return outcomes_repo.questions_to_ask_again(
        session, ctx.now() - timedelta(days=ctx.settings.outcome_again_days)
    )


def ask_first(session: Session, ctx: NotifierContext, thread_id: str) -> int:
    """Round 1 for one thread; returns the number of emails queued (0 when already asked or erased)."""
    thread = repo.lock_thread(session, thread_id)
    if thread is None or thread.erased or thread.first_answer_at is None:
        return 0
    if outcomes_repo.questions_of(session, thread.id):
        return 0
    people = {p.id: p for p in repo.participants(session, thread.id)}
    company = next((p for p in people.values() if p.role == "company" and not p.failing), None)
    answerer = people.get(outcomes_repo.first_answerer_id(session, thread.id) or "")
    recipients = [p for p in (company, answerer) if p is not None and not p.failing]
    return _ask(session, ctx, thread, recipients, asked_round=1)


def ask_again(session: Session, ctx: NotifierContext, question_id: str) -> int:
    """Round 2 for the participant who answered « rien pour l'instant »."""
    first = outcomes_repo.question(session, question_id)
    if first is None:
        return 0
    thread = repo.lock_thread(session, first.thread_id)
    if thread is None or thread.erased:
        return 0
    if any(
        q.participant_id == first.participant_id and q.asked_round == LAST_ROUND
        for q in outcomes_repo.questions_of(session, thread.id)
    ):
        return 0
    person = repo.participant(session, first.participant_id)
    return _ask(
        session,
        ctx,
        thread,
        [person] if person is not None and not person.failing else [],
        asked_round=LAST_ROUND,
    )


def _ask(
    session: Session, ctx: NotifierContext, thread: Thread, recipients: list[Participant], *, asked_round: int
) -> int:
    if not recipients:
        return 0
    now, secret = ctx.now(), ctx.settings.secret_key
    base = ctx.settings.notifier_url.rstrip("/")
    entry = new_entry(session, thread, "outcome", text=SUBJECT, at=now)
    session.flush()
    for person in recipients:
        question = OutcomeQuestion(
            thread_id=thread.id,
            participant_id=person.id,
            entry_id=entry.id,
            respondent="rbe" if person.role in (*RBE_ROLES, "fallback") else "company",
            asked_round=asked_round,
            asked_at=now,
        )
        session.add(question)
        choices = [
            (OUTCOME_LABELS[kind], f"{base}/suite/{make_outcome_token(secret, question.id, kind)}")
            for kind in OUTCOME_KINDS
        ]
        queue_copy(
            session,
            ctx,
            thread,
            entry,
            person,
            "outcome_question",
            subject=f"{SUBJECT} — {thread.subject}",
            actions=None,
            choices=choices,
            asked_round=asked_round,
            respondent=question.respondent,
        )
    session.flush()
    metrics.OUTCOME_QUESTIONS.labels(str(asked_round)).inc(len(recipients))
    return len(recipients)


# ------------------------------------------------------------------ answering
def check(session: Session, ctx: NotifierContext, token: str) -> PendingOutcome:
    """Validate a choice link without changing anything (a GET, or a mail scanner prefetching it)."""
    try:
        claim = read_outcome_token(
            ctx.settings.secret_key, token, ctx.settings.outcome_link_ttl_days * 86400, OUTCOME_KINDS
        )
    except ActionTokenError as exc:
        raise OutcomeRefused(exc.reason) from exc
    question = outcomes_repo.question(session, claim.question_id)
    thread = repo.thread(session, question.thread_id) if question else None
    person = repo.participant(session, question.participant_id) if question else None
    if question is None or thread is None or person is None:
        raise OutcomeRefused("invalid")
    if thread.erased:
        raise OutcomeRefused("erased", status=erasure_reason(thread))
    if question.answered_at is not None or repo.action_used(session, question.id):
        raise OutcomeRefused("used", kind=question.kind)
    return PendingOutcome(question, thread, person, claim.kind)


def answer(session: Session, ctx: NotifierContext, token: str, note: str = "") -> PendingOutcome:
    """Record the choice once and publish it (``OutcomeRecorded``, through the outbox)."""
    pending = check(session, ctx, token)
    repo.lock_thread(session, pending.thread.id)
    pending = check(session, ctx, token)  # again, under the lock: another click may have just committed
    question, thread, person = pending.question, pending.thread, pending.participant
    now = ctx.now()
    repo.add(session, ActionUse(nonce=question.id, participant_id=person.id, action=pending.kind[:12]))
    question.answered_at, question.kind, question.note = now, pending.kind, note.strip()[:NOTE_MAX]
    session.add(question)
    add_to_outbox(
        session,
        OutcomeRecorded(
            correlation_id=thread.correlation_id or correlation(),
            request_id=uuid.UUID(thread.request_id),
            outcome_id=question.id,
            respondent=question.respondent,  # type: ignore[arg-type]
            respondent_label=(person.label or "Le lycée")
            if question.respondent == "rbe"
            else thread.company_name,
            kind=pending.kind,  # type: ignore[arg-type]
            note=question.note,
            asked_round=question.asked_round,
            answered_at=now,
        ),
    )
    session.flush()
    metrics.OUTCOME_ANSWERS.labels(pending.kind).inc()
    return pending
