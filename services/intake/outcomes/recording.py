"""Store an outcome the notifier recorded and show it on the request's status page."""

from __future__ import annotations

from sqlmodel import Session

from services.intake import repository
from services.intake.outcomes import repository as outcomes_repo
from services.intake.outcomes.models import RequestOutcome
from shared.contracts.events import OUTCOME_LABELS, OutcomeRecorded


def title_of(event: OutcomeRecorded) -> str:
    said_by = "vous" if event.respondent == "company" else (event.respondent_label or "le lycée")
    return f"Suite de la demande : {OUTCOME_LABELS[event.kind]} (indiquée par {said_by})"


def apply_outcome(session: Session, event: OutcomeRecorded) -> None:
    """Once per outcome (its id is the primary key); an unknown request (never stored) is ignored."""
    request = repository.lock_request_state(session, str(event.request_id))
    if request is None or outcomes_repo.exists(session, event.outcome_id):
        return
    note = "" if request.anonymised_at else event.note
    outcomes_repo.add(
        session,
        RequestOutcome(
            id=event.outcome_id,
            request_id=request.id,
            respondent=event.respondent,
            respondent_label=event.respondent_label[:300],
            kind=event.kind,
            note=note,
            asked_round=event.asked_round,
            answered_at=event.answered_at,
        ),
    )
    repository.add_entry(
        session,
        repository.entry_row(
            request.id,
            event.answered_at,
            "outcome",
            title_of(event)[:300],
            text=note,
            author=(event.respondent_label or None) and event.respondent_label[:200],
        ),
    )
