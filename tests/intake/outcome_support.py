"""What the intake outcome tests share: a request routed to a lycée and answered by it (through the real
handlers, in the caller's transaction), and an ``OutcomeRecorded`` as the notifier publishes it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from services.intake import handlers
from shared.contracts.events import OutcomeRecorded, RequestRouted, RoutedRecipient, ThreadMessage

LYCEE = "Lycée Hôtelier François Rabelais"
COMPANY = "Boulangerie Dupont"


def route_and_answer(
    session: Session, request_id: str, *, answered: bool = True, delay_hours: float = 3
) -> None:
    """Routed to one lycée now; answered by its RBE ``delay_hours`` later (unless ``answered`` is False)."""
    now = datetime.now(UTC)
    handlers.on_routed(
        RequestRouted(
            correlation_id="t",
            request_id=uuid.UUID(request_id),
            routing_id=uuid.uuid4(),
            submitted_at=now,
            needs=["pfmp"],
            academie="Lyon",
            company_name=COMPANY,
            contact={"name": "Jeanne Martin", "email": "jeanne@boulangerie-dupont.fr"},  # type: ignore[arg-type]
            recipients=[
                RoutedRecipient(
                    assignment_id=uuid.uuid4(),
                    rbe_email="rbe@lycee.fr",
                    role="lead",
                    uais=["0690001A"],
                    lycees=[LYCEE],
                )
            ],
        ),
        session,
    )
    if answered:
        handlers.on_message(
            ThreadMessage(
                correlation_id="t",
                request_id=uuid.UUID(request_id),
                message_id=uuid.uuid4().hex,
                author_role="lead",
                author_label=LYCEE,
                kind="reply",
                text="Bonjour, avec plaisir.",
                sent_at=now + timedelta(hours=delay_hours),
            ),
            session,
        )


def outcome(request_id: str, kind: str, respondent: str = "company", note: str = "") -> OutcomeRecorded:
    return OutcomeRecorded(
        correlation_id="t",
        request_id=uuid.UUID(request_id),
        outcome_id=uuid.uuid4().hex,
        respondent=respondent,
        respondent_label=LYCEE if respondent == "rbe" else COMPANY,  # type: ignore[arg-type]
        kind=kind,
        note=note,
        answered_at=datetime.now(UTC),  # type: ignore[arg-type]
    )
