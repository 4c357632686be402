"""Accepting a qualified request: the request row, its first timeline entry and the
``RequestSubmitted`` outbox row, staged in the caller's transaction."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection
from sqlmodel import Session

from services.intake import repository
from services.intake.service.validation import Qualified
from shared.contracts.events import Contact, Location, RequestSource, RequestSubmitted
from shared.platform.ids import time_ordered_uuid
from shared.platform.outbox import insert_outbox_rows, outbox_row
from shared.reference.pilot import Pilot


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
    in_pilot: bool = True
    pilot_notice: str | None = None  # what the company is told outside the pilot (not kept for a replay)


def status_path(token: str) -> str:
    return f"/suivi/{token}"


def body_hash(data: object) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


RATE_LIMITED = (
    "Vous avez déjà envoyé plusieurs demandes avec cette adresse électronique. "
    "Réessayez dans une heure, ou complétez une demande existante depuis sa page de suivi."
)
RECEIVED_TITLE = "Demande reçue par MonLycéePro"


def replay(db: Session | Connection, key: str, digest: str) -> Submitted | None:
    """The first result for an Idempotency-Key; IdempotencyConflict if the key came with another body."""
    record = repository.idempotency_record(db, key)
    if record is None:
        return None
    body_digest, request_id = record
    if body_digest != digest:
        raise IdempotencyConflict(key)
    token = repository.token_of(db, request_id)
    if token is None:
        return None
    return Submitted(request_id, token, replayed=True)


@dataclass(frozen=True, slots=True)
class Staged:
    """A request's three rows (request, first timeline entry, outbox event), built before its
    transaction: building them costs more than inserting them, and none of it needs the write lock."""

    submitted: Submitted
    email: str
    request: dict[str, object]
    entry: dict[str, object]
    outbox: dict[str, object]
    idempotency: tuple[str, str] | None = None


_DIRECT_SOURCES = {"form": RequestSource(kind="form"), "api": RequestSource(kind="api")}


def default_source(channel: str) -> RequestSource:
    """A request nobody attributed came straight to MonLycéePro, through the form or the API."""
    return _DIRECT_SOURCES.get(channel, _DIRECT_SOURCES["form"])


def stage(
    q: Qualified,
    *,
    channel: str,
    correlation_id: str,
    base_url: str,
    idempotency: tuple[str, str] | None = None,
    now: datetime | None = None,
    source: RequestSource | None = None,
    pilot: Pilot | None = None,
) -> Staged:
    """Everything a request writes, as plain rows (no ORM object: a ``CompanyRequest`` and a
    ``TimelineEntry`` cost ~0.2 ms each to build). The event is the contract's pydantic model, so a
    request that breaks the contract (pydantic ValidationError) fails here, before any statement."""
    now = now or datetime.now(UTC)
    body = q.body
    request_uuid = time_ordered_uuid()
    request_id = str(request_uuid)
    token = secrets.token_urlsafe(24)
    c = q.commune
    source = source or default_source(channel)
    notice = pilot.notice(q.academie) if pilot is not None else None
    row: dict[str, object] = {
        "id": request_id, "token": token, "created_at": now, "channel": channel, "correlation_id": correlation_id,
        "needs": list(body.needs), "jobs": list(body.jobs), "naf": q.naf, "siret": q.siret,
        "postal_code": c.postal_code or None, "commune_insee": c.insee, "commune_name": c.name,
        "departement": c.departement, "academie": q.academie, "latitude": c.latitude, "longitude": c.longitude,
        "radius_km": body.radius_km, "company_name": body.company_name.strip(),
        "contact_name": body.contact.name.strip(), "contact_email": q.email, "contact_phone": q.phone,
        "message": body.message, "places": body.places, "period": body.period or None,
        "preferred_uai": body.preferred_uai or None,
        "source_kind": source.kind, "source_partner": source.partner, "source_campaign": source.campaign,
        "in_pilot": notice is None,
    }
    event = RequestSubmitted(
        event_id=time_ordered_uuid(),
        occurred_at=now,  # not its default factory: one clock read per request
        correlation_id=correlation_id,
        request_id=request_uuid,
        submitted_at=now,
        needs=row["needs"],  # type: ignore[arg-type]
        jobs=row["jobs"],  # type: ignore[arg-type]
        naf=q.naf,
        siret=q.siret,
        location=Location(
            postal_code=row["postal_code"], commune_insee=c.insee, commune_name=c.name,  # type: ignore[arg-type]
            latitude=c.latitude, longitude=c.longitude, departement=c.departement,
        ),
        radius_km=body.radius_km,
        company_name=row["company_name"],  # type: ignore[arg-type]
        contact=Contact(name=row["contact_name"], email=q.email, phone=q.phone),  # type: ignore[arg-type]
        message=body.message,
        places=body.places,
        period=row["period"],  # type: ignore[arg-type]
        preferred_uai=row["preferred_uai"],  # type: ignore[arg-type]
        status_url=base_url.rstrip("/") + status_path(token),
        source=source,
        in_pilot=notice is None,
        pilot_notice=notice,
    )
    return Staged(
        submitted=Submitted(request_id, token, in_pilot=notice is None, pilot_notice=notice), email=q.email, request=row,
        entry=repository.entry_row(request_id, now, "received", RECEIVED_TITLE),
        outbox=outbox_row(event), idempotency=idempotency,
    )


def write_staged(
    connection: Connection, staged: Sequence[Staged], *, email_limit: int, email_window_s: int,
    now: datetime | None = None,
) -> list[Submitted | Exception]:
    """Write staged requests inside the caller's transaction: one outcome per request, in order.

    The per-address limit is counted once for the whole batch (one grouped query on the
    (contact_email, created_at) index), plus the batch's own earlier requests. The count is exact
    across instances: on SQLite the transaction holds the write lock from BEGIN, on PostgreSQL an
    advisory lock per address is taken first (``repository.lock_contact_emails``). A refused request
    (RateLimited) or a replayed / conflicting idempotency key stages nothing; the rows of the
    accepted ones go in one executemany per table."""
    now = now or datetime.now(UTC)
    repository.lock_contact_emails(connection, {s.email for s in staged})
    recent = repository.count_recent_by_emails(connection, {s.email for s in staged},
                                                now - timedelta(seconds=email_window_s))
    outcomes: list[Submitted | Exception] = []
    accepted: list[Staged] = []
    for item in staged:
        if item.idempotency:
            try:
                first = replay(connection, *item.idempotency)
            except IdempotencyConflict as exc:
                outcomes.append(exc)
                continue
            if first:
                outcomes.append(first)
                continue
        count = recent.get(item.email, 0)
        if count >= email_limit:
            outcomes.append(RateLimited(RATE_LIMITED))
            continue
        recent[item.email] = count + 1
        accepted.append(item)
        outcomes.append(item.submitted)
    if accepted:
        repository.insert_requests(connection, [a.request for a in accepted])
        repository.add_entry_rows(connection, [a.entry for a in accepted])
        keys = [{"key": a.idempotency[0], "body_hash": a.idempotency[1], "request_id": a.submitted.request_id,
                 "created_at": now} for a in accepted if a.idempotency]
        if keys:
            repository.insert_idempotency(connection, keys)
        insert_outbox_rows(connection, [a.outbox for a in accepted])
    return outcomes
