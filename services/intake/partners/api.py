"""The partner API (``/api/v1/partenaire/…``): a partner reads, with its own key (scope
``status``), where its requests stand and its summary. Submitting is ``POST /api/v1/requests``
with the key (services/intake/api.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlmodel import Session

from services.intake import repository as intake_repository
from services.intake.deps import NOT_FOUND, Ctx, IntakeContext
from services.intake.partners import repository
from services.intake.partners.auth import authenticate
from services.intake.partners.openapi import PARTNER_KEY_REQUIRED
from services.intake.partners.repository import KeyOwner
from services.intake.partners.schemas import PartnerRequestOut, PartnerSummaryOut
from services.intake.partners.summary import DEFAULT_PERIOD, PERIODS, summary
from services.intake.service.timeline import STATUS_LABELS, status_of
from shared.platform.errors import FieldError
from shared.platform.http import ErrorOut, error_response, invalid_fields

router = APIRouter(prefix="/api/v1/partenaire", tags=["partenaires"])
AUTH_RESPONSES: dict[int | str, dict] = {
    401: {"model": ErrorOut, "description": "Clé d'API absente, invalide ou révoquée"},
    403: {"model": ErrorOut, "description": "Clé d'API sans la portée `status`"},
    429: {"model": ErrorOut, "description": "Trop d'appels avec cette clé"},
}


async def reader(request: Request) -> KeyOwner:
    return await authenticate(request, "status")


Reader = Annotated[KeyOwner, Depends(reader)]


def _iso(value: datetime | None) -> str | None:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat() if value is not None else None


def _request_view(ctx: IntakeContext, slug: str, request_id: str) -> dict | None:
    with Session(ctx.runtime.engine) as session:
        req = repository.partner_request(session, slug, request_id)
        if req is None:
            return None
        return {
            "request_id": req.id, "status": (status := status_of(req)), "status_label": STATUS_LABELS[status],
            "submitted_at": _iso(req.created_at), "first_routed_at": _iso(req.first_routed_at),
            "first_answered_at": _iso(req.first_answered_at),
            "steps": [{"at": _iso(e.at), "kind": e.kind, "title": e.title}
                      for e in intake_repository.timeline(session, req.id)],
        }


@router.get("/demandes/{request_id}", response_model=PartnerRequestOut, summary="Suivi d'une demande du partenaire",
            description=("Où en est une demande que le partenaire a déposée avec une de ses clés (portée `status`). "
                         "Une demande d'un autre partenaire, ou déposée autrement, répond 404 comme une demande "
                         "inconnue. Les messages échangés entre l'entreprise et les lycées n'y figurent pas."),
            responses={**AUTH_RESPONSES, 404: {"model": ErrorOut, "description": "Demande introuvable"}},
            openapi_extra={"security": PARTNER_KEY_REQUIRED})
async def partner_request(request_id: str, owner: Reader, ctx: Ctx):
    view = await ctx.runtime.run_db(_request_view, ctx, owner.partner, request_id[:40])
    if view is None:
        return error_response(404, NOT_FOUND)
    return view


def _summary(ctx: IntakeContext, slug: str, period: str) -> dict:
    with Session(ctx.runtime.engine) as session:
        partner = repository.get_partner(session, slug)
        return summary(session, slug, partner.name if partner else slug, period)


@router.get("/bilan", response_model=PartnerSummaryOut, summary="Bilan privé du partenaire",
            description=("Les demandes venues du partenaire (formulaire intégré, clé d'API, campagnes) : reçues, "
                         "transmises, avec une réponse, et le délai médian avant la première réponse. Chiffres "
                         "exacts, sans donnée personnelle, visibles du seul partenaire (portée `status`)."),
            responses={**AUTH_RESPONSES, 422: {"model": ErrorOut}},
            openapi_extra={"security": PARTNER_KEY_REQUIRED})
async def partner_summary(owner: Reader, ctx: Ctx, period: Annotated[
        str, Query(max_length=10, description="30j, 90j, 12m ou tout")] = DEFAULT_PERIOD):
    if period not in PERIODS:
        return invalid_fields([FieldError("period", "Période inconnue : choisissez 30j, 90j, 12m ou tout.")])
    return await ctx.runtime.run_db(_summary, ctx, owner.partner, period)
