"""Stream handlers (thin): each event updates the request's lifecycle and status timeline.

They run inside the reliable consumer's transaction, with the processed-event key; never commit here.
"""

from __future__ import annotations

from sqlmodel import Session

from services.intake.outcomes.recording import apply_outcome
from services.intake.service import timeline
from shared.contracts.events import (
    AssignmentChanged,
    OutcomeRecorded,
    RequestFollowUp,
    RequestRouted,
    Streams,
    ThreadMessage,
)
from shared.platform.consumer import Subscription


def on_routed(event: RequestRouted, session: Session) -> None:
    timeline.apply_routed(session, event)


def on_followup(event: RequestFollowUp, session: Session) -> None:
    timeline.apply_followup(session, event)


def on_assignment(event: AssignmentChanged, session: Session) -> None:
    timeline.apply_assignment(session, event)


def on_message(event: ThreadMessage, session: Session) -> None:
    timeline.apply_message(session, event)


def on_outcome(event: OutcomeRecorded, session: Session) -> None:
    apply_outcome(session, event)


SUBSCRIPTIONS = (
    Subscription(Streams.REQUEST_ROUTED, RequestRouted, on_routed),
    Subscription(Streams.REQUEST_FOLLOWUP, RequestFollowUp, on_followup),
    Subscription(Streams.ASSIGNMENT_CHANGED, AssignmentChanged, on_assignment),
    Subscription(Streams.THREAD_MESSAGE, ThreadMessage, on_message),
    Subscription(Streams.OUTCOME_RECORDED, OutcomeRecorded, on_outcome),
)
