"""Personal data: erase on the company's demand, anonymise after the retention period."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlmodel import Session

from services.intake import repository
from services.intake.models import CompanyRequest, TimelineEntry
from services.intake.outcomes import repository as outcomes_repo
from shared.contracts.events import RequestErased
from shared.platform.outbox import add_to_outbox, delete_published_about

ERASED_LABEL = "(données supprimées)"


def erase(
    session: Session, request: CompanyRequest, reason: Literal["company_request", "retention"],
    correlation_id: str, now: datetime | None = None,
) -> bool:
    """Anonymise the personal fields and announce it; False if it was already done."""
    if request.anonymised_at:
        return False
    now = now or datetime.now(UTC)
    request.company_name = ERASED_LABEL
    request.contact_name = ""
    request.contact_email = ""
    request.contact_phone = None
    request.message = ""
    request.siret = None
    request.jobs = []
    request.period = None
    request.latitude = None
    request.longitude = None
    request.anonymised_at = now
    request.erasure_reason = reason
    session.add(request)
    repository.scrub_timeline(session, request.id)
    outcomes_repo.scrub_notes(session, request.id)
    repository.delete_idempotency_for(session, request.id)
    delete_published_about(session, request.id)
    title = ("Données personnelles supprimées à votre demande" if reason == "company_request"
             else "Données personnelles anonymisées (durée de conservation écoulée)")
    repository.add_entry(session, TimelineEntry(request_id=request.id, at=now, kind="erased", title=title))
    add_to_outbox(session, RequestErased(correlation_id=correlation_id, request_id=uuid.UUID(request.id), reason=reason))
    return True


def anonymise_expired(session: Session, retention_days: int, batch: int, correlation_id: str,
                      now: datetime | None = None) -> int:
    """One batch of the retention job; returns how many requests were anonymised."""
    now = now or datetime.now(UTC)
    count = 0
    for request in repository.expired_requests(session, now - timedelta(days=retention_days), batch):
        count += erase(session, request, "retention", correlation_id, now)
    return count
