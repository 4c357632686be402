"""The matcher's assignments: one row per (request, RBE), stored from routing plans and read back as
the recipients an event carries."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from sqlmodel import Session

from services.matcher import repository as repo
from services.matcher.models import Assignment
from services.matcher.service.routing import Candidate, RecipientPlan
from shared.contracts.events import FormationRef, RoutedRecipient
from shared.platform.clock import utcnow
from shared.platform.db import insert_rows


def month_of(now: datetime) -> str:
    return now.strftime("%Y-%m")


def store_assignments(session: Session, request_id: str, routing_id: str, plans: list[RecipientPlan],
                       candidates: list[Candidate], now: datetime) -> list[RoutedRecipient]:
    """Store one assignment per plan and count the month's loads; returns the event's recipients,
    built from the plans (the rows are not read back)."""
    family_of = {c.uai: c.family for c in candidates}
    ids = [str(uuid.uuid4()) for _ in plans]
    rows = []
    for assignment_id, p in zip(ids, plans, strict=True):
        stamp = utcnow()
        rows.append(dict(
            id=assignment_id, request_id=request_id, routing_id=routing_id, rbe_id=p.rbe_id,
            rbe_email=p.rbe_email, rbe_name=p.rbe_name, is_generic_contact=p.is_generic_contact, role=p.role,
            status="pending", uais=",".join(p.uais), lycees=json.dumps(p.lycees, ensure_ascii=False),
            families=",".join(family_of.get(u, u) for u in p.uais), distance_km=p.distance_km,
            formations=json.dumps([{"cfd": c, "label": label} for c, label in p.formations], ensure_ascii=False),
            reasons=json.dumps(p.reasons, ensure_ascii=False), created_at=stamp, updated_at=stamp,
        ))
    insert_rows(session, Assignment, rows)
    repo.increment_loads(session, [u for p in plans for u in p.uais], month_of(now))
    return [
        RoutedRecipient(
            assignment_id=uuid.UUID(assignment_id), rbe_email=p.rbe_email, rbe_name=p.rbe_name, role=p.role,  # type: ignore[arg-type]
            is_generic_address=p.is_generic_contact, uais=list(p.uais), lycees=list(p.lycees),
            distance_km=p.distance_km, formations=[FormationRef(cfd=c, label=label) for c, label in p.formations],
            reasons=list(p.reasons),
        )
        for assignment_id, p in zip(ids, plans, strict=True)
    ]


def recipient_of(row: Assignment) -> RoutedRecipient:
    return RoutedRecipient(
        assignment_id=uuid.UUID(row.id), rbe_email=row.rbe_email, rbe_name=row.rbe_name, role=row.role,  # type: ignore[arg-type]
        is_generic_address=row.is_generic_contact, uais=row.uais.split(","), lycees=json.loads(row.lycees),
        distance_km=row.distance_km, formations=[FormationRef(**f) for f in json.loads(row.formations)],
        reasons=json.loads(row.reasons),
    )
