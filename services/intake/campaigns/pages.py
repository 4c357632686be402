"""The HTTP edge of the campaigns: the invitation link (the form, pre-filled) and the unsubscribe
link (RFC 8058: ``POST`` unsubscribes at once, ``GET`` asks for a confirmation)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.intake.campaigns import contacts
from services.intake.campaigns.attribution import context_tokens as _tokens
from services.intake.deps import Ctx, IntakeContext
from services.intake.pages import render_form
from shared.platform.clock import utcnow
from shared.platform.db import unit_of_work
from shared.platform.logging import get_logger

router = APIRouter(include_in_schema=False)
log = get_logger(__name__)


def _open(ctx: IntakeContext, token: str) -> dict | None:
    with unit_of_work(ctx.runtime.engine) as session:
        return contacts.open_invitation(session, _tokens(ctx), token, utcnow())


@router.get("/invitation/{token}")
async def invitation(token: str, request: Request, ctx: Ctx) -> HTMLResponse:
    values = await ctx.runtime.run_db(_open, ctx, token)
    if values is None:
        return ctx.templates.TemplateResponse(request, "campagne_lien.html", {}, status_code=404)
    return render_form(ctx, request, values)


# ------------------------------------------------------------------ unsubscribe
@router.get("/desinscription/{token}")
async def unsubscribe_page(token: str, request: Request, ctx: Ctx) -> HTMLResponse:
    valid = _tokens(ctx).unsubscribe_of(token) is not None
    return ctx.templates.TemplateResponse(request, "campagne_desinscription.html",
                                          {"token": token, "done": False, "valid": valid},
                                          status_code=200 if valid else 404)


def _unsubscribe(ctx: IntakeContext, token: str) -> bool | None:
    with unit_of_work(ctx.runtime.engine) as session:
        return contacts.unsubscribe(session, _tokens(ctx), token, utcnow())


@router.post("/desinscription/{token}")
async def unsubscribe(token: str, request: Request, ctx: Ctx) -> HTMLResponse:
    """RFC 8058 one-click (body ``List-Unsubscribe=One-Click``, not even read) and the confirmation
    page's button: no confirmation, no login."""
    outcome = await ctx.runtime.run_db(_unsubscribe, ctx, token)
    if outcome is None:
        return ctx.templates.TemplateResponse(request, "campagne_desinscription.html",
                                              {"token": token, "done": False, "valid": False}, status_code=404)
    log.info("campaign_unsubscribed", first_time=outcome)
    return ctx.templates.TemplateResponse(request, "campagne_desinscription.html",
                                          {"token": token, "done": True, "valid": True})
