"""All SQL of intake's outcomes. Functions take the caller's session; none of them commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from services.intake.models import CompanyRequest
from services.intake.outcomes.models import RequestOutcome


def exists(session: Session, outcome_id: str) -> bool:
    return session.exec(select(RequestOutcome.id).where(RequestOutcome.id == outcome_id)).first() is not None


def add(session: Session, outcome: RequestOutcome) -> None:
    session.add(outcome)
    session.flush()


def scrub_notes(session: Session, request_id: str) -> None:
    """The free texts are the respondents' words about the request: erased with its personal data."""
    session.execute(
        update(RequestOutcome).where(col(RequestOutcome.request_id) == request_id).values(note="")
    )


def actions_since(session: Session, since: datetime | None, kinds: tuple[str, ...]) -> list[tuple]:
    """(request_id, kind, answered_at) of the joint actions of requests created since ``since``."""
    query = (
        select(RequestOutcome.request_id, RequestOutcome.kind, RequestOutcome.answered_at)
        .join(CompanyRequest, col(CompanyRequest.id) == col(RequestOutcome.request_id))
        .where(col(RequestOutcome.kind).in_(kinds))
        .order_by(col(RequestOutcome.answered_at))
    )
    if since is not None:
        query = query.where(col(CompanyRequest.created_at) >= since)
    return [tuple(row) for row in session.exec(query).all()]
