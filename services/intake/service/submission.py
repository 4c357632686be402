"""Accepting a qualified request: the request row, its first timeline entry and the
``RequestSubmitted`` outbox row, staged in the caller's transaction."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from services.intake import repository
from services.intake.models import CompanyRequest, IdempotencyKey, TimelineEntry
from services.intake.service.validation import Qualified
from shared.contracts.events import Contact, Location, RequestSubmitted
from shared.platform.outbox import add_to_outbox


class RateLimited(Exception):
    """Too many requests; ``message`` is shown to the company (French)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class IdempotencyConflict(Exception):
    pass


@dataclass(frozen=True)
class Submitted:
    request_id: str
    token: str
    replayed: bool = False


def status_path(token: str) -> str:
    return f"/suivi/{token}"


def body_hash(data: object) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def replay(session: Session, key: str, digest: str) -> Submitted | None:
    """The first result for an Idempotency-Key; IdempotencyConflict if the key came with another body."""
    record = repository.get_idempotency(session, key)
    if record is None:
        return None
    if record.body_hash != digest:
        raise IdempotencyConflict(key)
    request = repository.get_request(session, record.request_id)
    if request is None:
        return None
    return Submitted(request.id, request.token, replayed=True)


def submit(
    session: Session,
    q: Qualified,
    *,
    channel: str,
    correlation_id: str,
    base_url: str,
    email_limit: int,
    email_window_s: int,
    idempotency: tuple[str, str] | None = None,
    now: datetime | None = None,
) -> Submitted:
    now = now or datetime.now(UTC)
    if idempotency:
        first = replay(session, *idempotency)
        if first:
            return first
    body = q.body
    request_id = str(uuid.uuid4())
    token = secrets.token_urlsafe(24)
    c = q.commune
    # Built before the first statement: on SQLite that statement takes the write lock until commit.
    request = CompanyRequest(
        id=request_id, token=token, created_at=now, channel=channel, correlation_id=correlation_id,
        needs=list(body.needs), jobs=list(body.jobs), naf=q.naf, siret=q.siret,
        postal_code=c.postal_code or None, commune_insee=c.insee, commune_name=c.name, departement=c.departement,
        academie=q.academie, latitude=c.latitude, longitude=c.longitude, radius_km=body.radius_km,
        company_name=body.company_name.strip(), contact_name=body.contact.name.strip(), contact_email=q.email,
        contact_phone=q.phone, message=body.message, places=body.places, period=body.period or None,
        preferred_uai=(body.preferred_uai or None),
    )
    received = TimelineEntry(request_id=request_id, at=now, kind="received", title="Demande reçue par MonLycéePro")
    event = submitted_event(request, base_url)
    recent = repository.count_recent_by_email(session, q.email, now - timedelta(seconds=email_window_s))
    if recent >= email_limit:
        raise RateLimited(
            "Vous avez déjà envoyé plusieurs demandes avec cette adresse électronique. "
            "Réessayez dans une heure, ou complétez une demande existante depuis sa page de suivi."
        )
    repository.add_request(session, request)
    repository.add_entry(session, received)
    if idempotency:
        repository.add_idempotency(session, IdempotencyKey(
            key=idempotency[0], body_hash=idempotency[1], request_id=request_id, created_at=now,
        ))
    add_to_outbox(session, event)
    return Submitted(request_id, token)


def submitted_event(request: CompanyRequest, base_url: str) -> RequestSubmitted:
    return RequestSubmitted(
        correlation_id=request.correlation_id,
        request_id=uuid.UUID(request.id),
        submitted_at=request.created_at,
        needs=request.needs,  # type: ignore[arg-type]
        jobs=request.jobs,
        naf=request.naf,
        siret=request.siret,
        location=Location(
            postal_code=request.postal_code, commune_insee=request.commune_insee, commune_name=request.commune_name,
            latitude=request.latitude, longitude=request.longitude, departement=request.departement,
        ),
        radius_km=request.radius_km,
        company_name=request.company_name,
        contact=Contact(name=request.contact_name, email=request.contact_email, phone=request.contact_phone),
        message=request.message,
        places=request.places,
        period=request.period,
        preferred_uai=request.preferred_uai,
        status_url=base_url.rstrip("/") + status_path(request.token),
    )
