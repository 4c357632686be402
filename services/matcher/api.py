"""HTTP routes of the matcher (thin): routing preview, admin review queue and the referents' actions."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from sqlmodel import Session

from services.matcher import metrics
from services.matcher import repository as repo
from services.matcher.catalog_client import ReadModelHolder
from services.matcher.config import MatcherSettings
from services.matcher.schemas import (
    FallbackOut,
    FormationOut,
    ManualRouteIn,
    ManualRouteOut,
    PreviewOut,
    PreviewRecipient,
    ReviewActionIn,
    ReviewActionOut,
    ReviewItemOut,
)
from services.matcher.service import RoutingQuery, decide
from services.matcher.service.assignments import additional_rbes
from services.matcher.service.flows import fallback_for, outside_pilot_explanation
from services.matcher.service.manual import ManualRouteError, route_manually
from services.matcher.service.readmodel import CatalogReadModel
from services.matcher.service.review import ReviewActionRequest, act
from shared.contracts.request_schema import CompanyRequestIn
from shared.platform.clock import utcnow
from shared.platform.db import unit_of_work
from shared.platform.errors import FieldError
from shared.platform.http import (
    ADMIN_RESPONSES,
    VALIDATION_RESPONSES,
    Admin,
    ErrorOut,
    InvalidFields,
    Runtime,
)
from shared.platform.pilot_live import LivePilot
from shared.platform.service import ServiceRuntime
from shared.reference.geo import load_communes, territory_of
from shared.reference.pilot import Pilot

router = APIRouter(prefix="/api/v1")


async def get_model(request: Request) -> CatalogReadModel:
    holder: ReadModelHolder = request.app.state.holder
    if holder.model is None:
        raise HTTPException(503, "Le catalogue des lycées n'est pas encore chargé : réessayez dans un instant.")
    return holder.model


Model = Annotated[CatalogReadModel, Depends(get_model)]


def get_pilot(request: Request) -> Pilot:
    live: LivePilot = request.app.state.pilot
    return live.current


CurrentPilot = Annotated[Pilot, Depends(get_pilot)]

CATALOG_NOT_READY: dict[int | str, dict] = {503: {"model": ErrorOut, "description": "Catalogue pas encore chargé"}}


def _settings(runtime: ServiceRuntime) -> MatcherSettings:
    settings = runtime.settings
    assert isinstance(settings, MatcherSettings)  # create_app builds the runtime with them
    return settings


class UnknownLocation(Exception):
    """The postal code / INSEE code matches no commune."""


def _preview(runtime: ServiceRuntime, model: CatalogReadModel, body: CompanyRequestIn, pilot: Pilot) -> PreviewOut:
    communes = load_communes()
    commune = communes.resolve(body.location.postal_code, body.location.commune_insee)
    if commune is None or commune.latitude is None or commune.longitude is None:
        raise UnknownLocation()
    territoire = communes.territoire(commune.departement)
    settings = _settings(runtime)
    query = RoutingQuery(
        request_id=uuid.uuid4(), needs=list(body.needs), jobs=list(body.jobs), naf=body.naf,
        latitude=commune.latitude, longitude=commune.longitude, territory=territory_of(commune.departement),
        academie=territoire.academie if territoire else None, commune_name=commune.name,
        radius_km=body.radius_km, preferred_uai=body.preferred_uai, period=body.period,
    )
    if not pilot.includes(query.academie):  # what route_submitted does with a request intake marked outside
        return PreviewOut(
            recipients=[], fallback=FallbackOut(email=fallback_for(model, query.academie, settings),
                                                academie=query.academie),
            explanation=outside_pilot_explanation(query.academie, pilot.notice(query.academie)),
            in_pilot=False,
        )
    now = datetime.now(UTC)
    with Session(runtime.engine) as session:  # read only: no commit, no outbox
        loads = repo.month_loads(session, now.strftime("%Y-%m"))
    decision = decide(model, query, k=settings.max_lycees, steps=settings.radius_steps_km, loads=loads,
                      today=now.date(), keep=settings.kept_candidates)
    copies = additional_rbes(model, decision.recipients)
    fallback = (FallbackOut(email=fallback_for(model, query.academie, settings), academie=query.academie)
                if decision.unroutable else None)
    return PreviewOut(
        recipients=[
            PreviewRecipient(
                uai=p.uais[0], lycee=p.lycees[0], uais=p.uais, lycees=p.lycees, rbe_email=p.rbe_email, role=p.role,
                distance_km=p.distance_km, formations=[FormationOut(cfd=c, label=label) for c, label in p.formations],
                reasons=p.reasons, additional_rbes=extra,
            )
            for p, extra in zip(decision.recipients, copies, strict=True)
        ],
        fallback=fallback, explanation=decision.explanation, radius_km=decision.radius_km, romes=decision.romes,
    )


@router.post("/routing/preview", response_model=PreviewOut, tags=["routage"],
             responses={**VALIDATION_RESPONSES, **CATALOG_NOT_READY},
             summary="Aperçu, sans effet, des lycées qui recevraient la demande")
async def preview(body: CompanyRequestIn, runtime: Runtime, model: Model, pilot: CurrentPilot) -> PreviewOut:
    try:
        return await runtime.run_db(_preview, runtime, model, body, pilot)
    except UnknownLocation:
        raise InvalidFields([FieldError("location", "Code postal ou commune inconnu(e).")]) from None


@router.get("/review", response_model=list[ReviewItemOut], tags=["revue"], responses=ADMIN_RESPONSES,
            summary="Demandes sans lycée pertinent, à router à la main (par académie)")
def list_review(runtime: Runtime, _: Admin,
                academie: Annotated[str | None, Query(max_length=80, description="Seulement cette académie")] = None,
                traitees: Annotated[bool, Query(description="Inclure les demandes déjà traitées")] = False,
                ) -> list[ReviewItemOut]:
    out = []
    with Session(runtime.engine) as session:
        for item in repo.list_review(session, include_resolved=traitees, academie=academie):
            req = repo.get_request(session, item.request_id)
            payload = json.loads(req.payload) if req else {}
            decisions = repo.decisions_of(session, item.request_id)
            out.append(ReviewItemOut(
                request_id=item.request_id, reason=item.reason, academie=item.academie,
                fallback_email=item.fallback_email, created_at=item.created_at, needs=payload.get("needs", []),
                jobs=payload.get("jobs", []), commune=(payload.get("location") or {}).get("commune_name"),
                company_name=payload.get("company_name", ""),
                explanation=decisions[-1].explanation if decisions else "", version=item.version,
                resolution=item.resolution if item.resolved_at else None, handled_by=item.handled_by,
                handled_by_name=item.handled_by_name, handled_at=item.handled_at,
            ))
    return out


@router.post("/review/{request_id}/actions", response_model=ReviewActionOut, tags=["revue"],
             responses={**VALIDATION_RESPONSES, **ADMIN_RESPONSES, **CATALOG_NOT_READY,
                        404: {"model": ErrorOut, "description": "Demande inconnue (dans cette académie)"},
                        409: {"model": ErrorOut, "description": "Déjà traitée par un autre référent"}},
             summary="Action d'un référent sur une demande : attribuer, rerouter ou clore (une seule fois)")
def review_action(request_id: uuid.UUID, body: ReviewActionIn, runtime: Runtime, model: Model, _: Admin,
                  idempotency_key: Annotated[str, Header(min_length=8, max_length=80)]) -> ReviewActionOut:
    ask = ReviewActionRequest(
        action=body.action, actor=body.actor.strip().lower(), actor_name=body.actor_name, seen_version=body.expected_version,
        academie=body.academie, uais=[u.strip().upper() for u in body.uais], jobs=[j.strip() for j in body.jobs if j.strip()],
        postal_code=(body.postal_code or "").strip() or None, reason=body.reason.strip(),
    )
    try:
        with unit_of_work(runtime.engine) as session:
            result = act(session, str(request_id), idempotency_key, ask, model, _settings(runtime), utcnow())
    except ManualRouteError as exc:
        metrics.REVIEW_ACTIONS.labels(body.action, "conflict" if exc.status == 409 else "refused").inc()
        if exc.status == 422:
            raise InvalidFields([FieldError(_FIELD_OF.get(body.action, "action"), str(exc))]) from None
        raise HTTPException(exc.status, str(exc)) from exc
    metrics.REVIEW_ACTIONS.labels(body.action, "replayed" if result.replayed else "done").inc()
    if not result.replayed:
        runtime.relay.wake()
    return ReviewActionOut(**asdict(result))


_FIELD_OF = {"assign": "uais", "reroute": "jobs", "close": "reason"}


@router.post("/review/{request_id}/route", response_model=ManualRouteOut, tags=["revue"],
             responses={**VALIDATION_RESPONSES, **ADMIN_RESPONSES, **CATALOG_NOT_READY,
                        404: {"model": ErrorOut, "description": "Demande inconnue"},
                        409: {"model": ErrorOut, "description": "Demande déjà routée"}},
             summary="Router à la main une demande de la file de revue")
def route_review_item(request_id: uuid.UUID, body: ManualRouteIn, runtime: Runtime, model: Model,
                      _: Admin) -> ManualRouteOut:
    try:
        with unit_of_work(runtime.engine) as session:
            outcome = route_manually(session, str(request_id), body.uais, model, _settings(runtime))
    except ManualRouteError as exc:
        if exc.status == 422:
            raise InvalidFields([FieldError("uais", str(exc))]) from None
        raise HTTPException(exc.status, str(exc)) from exc
    runtime.relay.wake()
    return ManualRouteOut(request_id=str(request_id), assignments=outcome.recipients)
