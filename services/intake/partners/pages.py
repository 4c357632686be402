"""The form embedded in a partner's site: ``/integrer/{slug}`` (form, POST, thank-you page) and
``/integrer/{slug}/code`` (the snippet to paste).

The same form and handlers as ``/demande`` (services/intake/pages.py), in a layout without the
site's header and footer, with the partner's name shown. Every answer carries
``Content-Security-Policy: frame-ancestors <the partner's origins>``, so only the partner's own
pages can frame it (no X-Frame-Options on these paths: see deploy/caddy/Caddyfile). The partner
is read from the database on each call, GET and POST alike: an unknown or disabled partner gets
the French « not available » page, and nothing is stored.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from services.intake import repository as intake_repository
from services.intake.deps import Ctx, IntakeContext
from services.intake.pages import FormPlace, blank_form, render, take_form, thanks_page
from services.intake.partners import repository
from services.intake.partners.models import Partner
from services.intake.service.timeline import status_view
from shared.contracts.events import RequestSource

router = APIRouter(include_in_schema=False)
FRAME_TITLE = "Déposer une demande auprès des lycées professionnels (MonLycéePro)"


def frame_ancestors(origins: list[str]) -> dict[str, str]:
    """Who may frame the page: these origins only ('none': nobody)."""
    return {"Content-Security-Policy": "frame-ancestors " + (" ".join(origins) or "'none'")}


def embed_place(partner: Partner) -> FormPlace:
    slug = partner.slug
    return FormPlace(
        action=f"/integrer/{slug}", thanks=f"/integrer/{slug}/merci/{{token}}", layout="integrer_base.html",
        partner_name=partner.name, source=RequestSource(kind="embed", partner=slug),
        headers=frame_ancestors(list(partner.origins)),
    )


def _partner(ctx: IntakeContext, slug: str) -> Partner | None:
    """The partner (enabled or not) by its slug; detached, so it can leave the session."""
    with Session(ctx.runtime.engine, expire_on_commit=False) as session:
        return repository.get_partner(session, slug[:40])


def _unavailable(ctx: IntakeContext, request: Request, partner: Partner | None) -> HTMLResponse:
    """404 in French. A disabled partner's own pages may still frame it, to say so to the company."""
    origins = list(partner.origins) if partner is not None else []
    return render(ctx, request, "integrer_introuvable.html", 404, FormPlace(headers=frame_ancestors(origins)))


@router.get("/integrer/{slug}")
async def embedded_form(slug: str, request: Request, ctx: Ctx) -> HTMLResponse:
    partner = await ctx.runtime.run_db(_partner, ctx, slug)
    if partner is None or partner.disabled_at is not None:
        return _unavailable(ctx, request, partner)
    return blank_form(ctx, request, embed_place(partner))


@router.post("/integrer/{slug}")
async def embedded_submit(slug: str, request: Request, ctx: Ctx) -> Response:
    partner = await ctx.runtime.run_db(_partner, ctx, slug)
    if partner is None or partner.disabled_at is not None:
        return _unavailable(ctx, request, partner)
    return await take_form(request, ctx, embed_place(partner))


def _embedded_status(ctx: IntakeContext, slug: str, token: str) -> dict | None:
    """The thank-you page's view, only for a request taken by this partner's embedded form."""
    with Session(ctx.runtime.engine) as session:
        req = intake_repository.get_by_token(session, token[:100])
        if req is None or req.source_kind != "embed" or req.source_partner != slug:
            return None
        return status_view(session, req, ctx.status_url(req.token))


@router.get("/integrer/{slug}/merci/{token}")
async def embedded_thanks(slug: str, token: str, request: Request, ctx: Ctx) -> HTMLResponse:
    partner = await ctx.runtime.run_db(_partner, ctx, slug)
    if partner is None:
        return _unavailable(ctx, request, partner)
    view = await ctx.runtime.run_db(_embedded_status, ctx, slug, token)
    return await thanks_page(request, ctx, view, embed_place(partner))


def snippet(base_url: str, slug: str) -> str:
    """The one snippet a partner pastes: the frame, and a few lines that size it from the heights
    the form sends (static/integrer.js), accepted only from MonLycéePro's origin and this frame."""
    parts = urlsplit(base_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    frame = f"monlyceepro-{slug}"
    return (
        f'<iframe id="{frame}" src="{base_url}/integrer/{slug}" title="{FRAME_TITLE}"\n'
        f'        style="width:100%;height:2400px;border:0" loading="lazy"></iframe>\n'
        "<script>\n"
        'window.addEventListener("message", function (e) {\n'
        f'  var f = document.getElementById("{frame}");\n'
        f'  if (!f || e.origin !== "{origin}" || e.source !== f.contentWindow) return;\n'
        '  if (!e.data || e.data.type !== "monlyceepro:hauteur") return;\n'
        '  f.style.height = e.data.hauteur + "px";\n'
        "  if (e.data.nouvellePage && f.getBoundingClientRect().top < 0) f.scrollIntoView();\n"
        "});\n"
        "</script>"
    )


@router.get("/integrer/{slug}/code")
async def snippet_page(slug: str, request: Request, ctx: Ctx) -> HTMLResponse:
    partner = await ctx.runtime.run_db(_partner, ctx, slug)
    if partner is None or partner.disabled_at is not None:
        return _unavailable(ctx, request, partner)
    return render(ctx, request, "integrer_code.html", 200, FormPlace(headers=frame_ancestors([])),
                  partner=partner, snippet=snippet(ctx.base_url, partner.slug))
