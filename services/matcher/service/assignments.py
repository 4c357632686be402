"""The matcher's assignments: one row per (request, RBE), stored from routing plans and read back as
the recipients an event carries."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sqlmodel import Session

from services.matcher import repository as repo
from services.matcher.models import Assignment
from services.matcher.service.readmodel import CatalogReadModel
from services.matcher.service.routing import Candidate, RecipientPlan
from shared.contracts.events import AdditionalRbe, FormationRef, RoutedRecipient
from shared.platform.clock import utcnow
from shared.platform.db import insert_raw, table_of
from shared.platform.ids import time_ordered_uuid

_ASSIGNMENTS = table_of(Assignment)


def month_of(now: datetime) -> str:
    return now.strftime("%Y-%m")


def store_assignments(session: Session, request_id: str, routing_id: str, plans: list[RecipientPlan],
                       candidates: list[Candidate], now: datetime,
                       model: CatalogReadModel | None = None) -> list[RoutedRecipient]:
    """Store one assignment per plan and count the month's loads; returns the event's recipients,
    built from the plans (the rows are not read back). With ``model``, each recipient also carries the other
    confirmed RBEs of its lycées (``additional_rbes``: copied in the thread, no assignment of their own)."""
    family_of = {c.uai: c.family for c in candidates}
    ids = [str(time_ordered_uuid()) for _ in plans]
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
    insert_raw(session.connection(), _ASSIGNMENTS, rows)  # RawInsert: see flows._REQUESTS
    repo.increment_loads(session, [u for p in plans for u in p.uais], month_of(now))
    copied = additional_rbes(model, plans) if model is not None else [[] for _ in plans]
    return [
        RoutedRecipient(
            assignment_id=uuid.UUID(assignment_id), rbe_email=p.rbe_email, rbe_name=p.rbe_name, role=p.role,  # type: ignore[arg-type]
            is_generic_address=p.is_generic_contact, uais=list(p.uais), lycees=list(p.lycees),
            distance_km=p.distance_km, formations=[FormationRef(cfd=c, label=label) for c, label in p.formations],
            reasons=list(p.reasons), additional_rbes=extra,
        )
        for assignment_id, p, extra in zip(ids, plans, copied, strict=True)
    ]


class _Concerned(Protocol):
    """A plan or a routed recipient: whom it names, for which lycées."""

    @property
    def rbe_email(self) -> str: ...
    @property
    def uais(self) -> list[str]: ...
    @property
    def lycees(self) -> list[str]: ...


def additional_rbes(model: CatalogReadModel, plans: Sequence[_Concerned]) -> list[list[AdditionalRbe]]:
    """Per plan, the other confirmed RBEs of its lycées. Each address once in the whole request, never one of
    the plans' own RBEs (they already have their assignment): an RBE named for several of the chosen lycées
    gets one copy, which lists them all."""
    recipients = {p.rbe_email.strip().lower() for p in plans}
    owner: dict[str, AdditionalRbe] = {}
    out: list[list[AdditionalRbe]] = []
    for plan in plans:
        mine: list[AdditionalRbe] = []
        for uai, lycee in zip(plan.uais, plan.lycees, strict=True):
            view = model.lycees.get(uai)
            for email, name in view.additional_rbes if view is not None else ():
                key = email.strip().lower()
                if key in recipients:
                    continue
                known = owner.get(key)
                if known is None:
                    known = owner[key] = AdditionalRbe(email=email, name=name, lycees=[])
                    mine.append(known)
                if lycee not in known.lycees:
                    known.lycees.append(lycee)
        out.append(mine)
    return out


def recipient_of(row: Assignment) -> RoutedRecipient:
    return RoutedRecipient(
        assignment_id=uuid.UUID(row.id), rbe_email=row.rbe_email, rbe_name=row.rbe_name, role=row.role,  # type: ignore[arg-type]
        is_generic_address=row.is_generic_contact, uais=row.uais.split(","), lycees=json.loads(row.lycees),
        distance_km=row.distance_km, formations=[FormationRef(**f) for f in json.loads(row.formations)],
        reasons=json.loads(row.reasons),
    )
