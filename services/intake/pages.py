"""Server-rendered French pages: the request form, confirmation, status page, impact, notices.

Everything works without JavaScript; ``static/demande.js`` adds step-by-step display and autocomplete.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlmodel import Session

from services.intake import metrics, repository
from services.intake.campaigns.attribution import attribution, link_request
from services.intake.deps import NOT_FOUND, Ctx, IntakeContext, unknown_jobs
from services.intake.service import impact as impact_service
from services.intake.service.form import JOB_SLOTS, RADIUS_CHOICES, body_from_form, form_field
from services.intake.service.form_token import FormTokenProblem, form_token_problem, issue_form_token
from services.intake.service.impact_chart import actions_by_month_svg
from services.intake.service.pilot_notice import PilotCheck, pilot_check
from services.intake.service.submission import RateLimited
from services.intake.service.timeline import close, status_view
from services.intake.service.validation import InvalidRequest
from shared.contracts.events import RequestSource
from shared.contracts.request_schema import NEED_LABELS
from shared.platform.db import unit_of_work
from shared.platform.http import error_response
from shared.reference.pilot import outside_recipient

router = APIRouter(include_in_schema=False)
FIELD_LABELS = {
    "besoins": "Votre besoin", "places": "Nombre de places", "periode": "Période", "metiers": "Métiers",
    "siret": "SIRET", "naf": "Code NAF", "lieu": "Commune ou code postal", "rayon_km": "Distance",
    "entreprise": "Nom de l'entreprise", "nom": "Nom et prénom", "email": "Adresse électronique",
    "telephone": "Téléphone", "message": "Précisions", "consentement": "Consentement", "uai": "Lycée choisi",
}
ANCHORS = {"besoins": "besoin-pfmp", "metiers": "metier-1", "formulaire": "form-demande"}
TOO_FAST = "Votre demande a été envoyée trop vite pour avoir été saisie par une personne. Vérifiez-la puis renvoyez-la."
EXPIRED = "Ce formulaire a expiré : vérifiez votre saisie puis renvoyez-le."


@dataclass(frozen=True)
class FormPlace:
    """Where the form is shown and sent: MonLycéePro's own page (``DIRECT``), or a partner's frame
    (services/intake/partners/pages.py: a layout without the site's header and footer, the
    partner's attribution, a Content-Security-Policy naming the sites that may frame it)."""

    action: str = "/demande"
    thanks: str = "/demande/merci/{token}"
    layout: str = "base.html"
    partner_name: str | None = None
    source: RequestSource | None = None  # None: a direct request
    headers: dict[str, str] = field(default_factory=dict)


DIRECT = FormPlace()


def render(ctx: IntakeContext, request: Request, name: str, status: int = 200, place: FormPlace = DIRECT,
           **context) -> HTMLResponse:
    response = ctx.templates.TemplateResponse(
        request, name, {"layout": place.layout, "embedded": place.layout != DIRECT.layout, **context},
        status_code=status)
    response.headers.update(place.headers)
    return response


def _render(ctx: IntakeContext, request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
    return render(ctx, request, name, status, DIRECT, **context)


def _form_page(ctx: IntakeContext, request: Request, values: dict, errors: dict[str, str] | None = None,
               status: int = 200, alert: str | None = None, place: FormPlace = DIRECT,
               pilot: PilotCheck | None = None, form_token: str | None = None) -> HTMLResponse:
    order = list(FIELD_LABELS)
    errors = dict(sorted((errors or {}).items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99))
    jobs = list(values.get("metiers") or [])[:JOB_SLOTS]
    jobs += [""] * (JOB_SLOTS - len(jobs))
    return render(
        ctx, request, "demande.html", status, place, values=values, jobs=jobs, errors=errors, alert=alert,
        labels=FIELD_LABELS, anchors=ANCHORS, needs=NEED_LABELS, radius_choices=RADIUS_CHOICES,
        form_token=form_token or issue_form_token(ctx.signer, now=ctx.clock()), form_action=place.action,
        partner_name=place.partner_name, pilot=pilot,
    )


def render_form(ctx: IntakeContext, request: Request, values: dict) -> HTMLResponse:
    """The request form with these values (another way in, such as a campaign's invitation link)."""
    return _form_page(ctx, request, values)


def blank_form(ctx: IntakeContext, request: Request, place: FormPlace = DIRECT) -> HTMLResponse:
    return _form_page(ctx, request, {"uai": "", "metiers": [], "rayon_km": "30", "besoins": []}, place=place)


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/demande", status_code=303)


@router.get("/demande")
async def form(request: Request, ctx: Ctx, uai: Annotated[str, Query(max_length=8)] = "",
               metiers: Annotated[list[str] | None, Query()] = None) -> HTMLResponse:
    prefill = {"uai": uai.strip().upper(), "metiers": [m[:120] for m in (metiers or [])][:JOB_SLOTS],
               "rayon_km": "30", "besoins": []}
    return _form_page(ctx, request, prefill)


def _fill_time_error(ctx: IntakeContext, token: str) -> tuple[str, str] | None:
    problem = form_token_problem(ctx.signer, token, min_fill_s=ctx.settings.min_fill_seconds,
                                 max_age_s=ctx.settings.max_form_age_s, now=ctx.clock())
    if problem is None:
        return None
    return problem.value, TOO_FAST if problem is FormTokenProblem.TOO_FAST else EXPIRED


class FormFields(dict):
    """The posted form as text only (file parts ignored), with ``getlist`` for repeated fields."""

    def __init__(self, multi: dict[str, list[str]]) -> None:
        super().__init__({k: v[0] for k, v in multi.items() if v})
        self.multi = multi

    def getlist(self, name: str) -> list[str]:
        return self.multi.get(name, [])


async def _read_form(request: Request) -> FormFields:
    multi: dict[str, list[str]] = {}
    async with request.form(max_files=0, max_fields=200) as form:
        for key, value in form.multi_items():
            if isinstance(value, str):
                multi.setdefault(key, []).append(value)
    return FormFields(multi)


@router.post("/demande")
async def submit_form(request: Request, ctx: Ctx) -> Response:
    return await take_form(request, ctx, DIRECT)


async def take_form(request: Request, ctx: IntakeContext, place: FormPlace) -> Response:
    """The posted form: stored and redirected to its thank-you page, or shown again with every mistake."""
    try:
        form = await _read_form(request)
    except Exception:  # malformed multipart / too many parts: the browser never sends that
        metrics.rejected("form", "validation")
        return _form_page(ctx, request, {"besoins": [], "metiers": []}, status=400,
                          alert="Le formulaire reçu est illisible : rechargez la page et recommencez.", place=place)
    values = {k: v for k, v in form.items() if k not in {"form_token"}}
    values["besoins"] = form.getlist("besoins")
    values["metiers"] = form.getlist("metiers")
    if not ctx.ip_limiter.hit(ctx.client_ip(request)):
        metrics.rejected("form", "rate_limited")
        alert = "Trop de demandes envoyées depuis votre connexion. Patientez quelques minutes avant de réessayer."
        page = _form_page(ctx, request, values, status=429, alert=alert, place=place)
        page.headers["Retry-After"] = str(ctx.settings.rate_limit_ip_window_s)
        return page
    if (form.get("site_web") or "").strip():
        # Honeypot filled: a robot. Answer like a refusal, store nothing.
        metrics.rejected("form", "honeypot")
        return _form_page(ctx, request, values, status=422, alert="Votre demande n'a pas pu être enregistrée.",
                          place=place)
    timing = _fill_time_error(ctx, str(form.get("form_token") or ""))
    if timing:
        metrics.rejected("form", timing[0])
        return _form_page(ctx, request, values, status=422, alert=timing[1], place=place)
    body, errors = body_from_form(form, form.getlist, ctx.communes)
    pilot = pilot_check(ctx.communes, ctx.pilot.current, body.get("location") or {})
    understood = await ctx.understood(list(body.get("jobs") or []), body.get("naf"))
    if unknown := unknown_jobs(understood):
        errors.setdefault("metiers", " ".join(e.message for e in unknown))
    # An invitation's signed token attributes the request to its campaign (checked in the database).
    source, invited_contact = await attribution(ctx, str(form.get("invitation") or ""))
    try:
        if errors:  # form-only mistakes: show them with every other one, store nothing
            raise InvalidRequest(await ctx.runtime.run_db(ctx.problems, body))
        if pilot is not None and form.get("pilote_vu") != pilot.seen:
            # Outside the pilot, and the company has not seen the notice yet (no JavaScript): a
            # confirmation step, with every valid value kept, before anything is stored.
            if problems := await ctx.runtime.run_db(ctx.problems, body):
                raise InvalidRequest(problems)
            return _form_page(ctx, request, values, place=place, pilot=pilot,
                              form_token=str(form.get("form_token") or ""))
        submitted = await ctx.accept(body, "form", request.state.correlation_id, source=place.source or source)
    except InvalidRequest as exc:
        for err in exc.errors:
            errors.setdefault(form_field(err.field), err.message)
        metrics.rejected("form", "validation")
        return _form_page(ctx, request, values, errors, status=422, place=place)
    except RateLimited as exc:
        metrics.rejected("form", "rate_limited")
        page = _form_page(ctx, request, values, status=429, alert=exc.message, place=place)
        page.headers["Retry-After"] = str(ctx.settings.rate_limit_email_window_s)
        return page
    if invited_contact is not None:
        await link_request(ctx, invited_contact, submitted.request_id)
    return RedirectResponse(place.thanks.format(token=submitted.token), status_code=303)


def _load_status(ctx: IntakeContext, token: str) -> dict | None:
    with Session(ctx.runtime.engine) as session:
        req = repository.get_by_token(session, token[:100])
        return status_view(session, req, ctx.status_url(token)) if req else None


@router.get("/demande/merci/{token}")
async def confirmation(token: str, request: Request, ctx: Ctx) -> HTMLResponse:
    view = await ctx.runtime.run_db(_load_status, ctx, token)
    return await thanks_page(request, ctx, view)


async def thanks_page(request: Request, ctx: IntakeContext, view: dict | None,
                      place: FormPlace = DIRECT) -> HTMLResponse:
    if view is None:
        return render(ctx, request, "introuvable.html", 404, place)
    understood = await ctx.understood(list(view.get("jobs") or []))
    pilot_recipient = None if view.get("in_pilot", True) else outside_recipient(view.get("academie"))
    return render(ctx, request, "merci.html", 200, place, view=view, understood=understood or [],
                  pilot_recipient=pilot_recipient)


@router.get("/suivi/{token}")
async def status_page(token: str, request: Request, ctx: Ctx) -> Response:
    view = await ctx.runtime.run_db(_load_status, ctx, token)
    wants_json = "application/json" in request.headers.get("accept", "")
    if view is None:
        if wants_json:
            return error_response(404, NOT_FOUND)
        return _render(ctx, request, "introuvable.html", 404)
    if wants_json:
        return JSONResponse(view)
    return _render(ctx, request, "suivi.html", view=view, token=token, error=None)


@router.post("/suivi/{token}/suppression")
async def erase_page(token: str, request: Request, ctx: Ctx) -> Response:
    form = await request.form()
    view = await ctx.runtime.run_db(_load_status, ctx, token)
    if view is None:
        return _render(ctx, request, "introuvable.html", 404)
    if form.get("confirmation") != "oui":
        return _render(ctx, request, "suivi.html", 422, view=view, token=token,
                       error="Cochez la case de confirmation pour supprimer vos données.")
    await ctx.runtime.run_db(ctx.erase_by_token, token, request.state.correlation_id)
    ctx.runtime.relay.wake()
    return RedirectResponse(f"/suivi/{token}", status_code=303)


def _close(ctx: IntakeContext, token: str) -> bool:
    with unit_of_work(ctx.runtime.engine) as session:
        req = repository.get_by_token(session, token[:100])
        if req is None:
            return False
        close(session, req)
        return True


@router.post("/suivi/{token}/cloture")
async def close_page(token: str, request: Request, ctx: Ctx) -> Response:
    if not await ctx.runtime.run_db(_close, ctx, token):
        return _render(ctx, request, "introuvable.html", 404)
    return RedirectResponse(f"/suivi/{token}", status_code=303)


@router.get("/impact")
async def impact_page(request: Request, ctx: Ctx, periode: Annotated[str, Query(max_length=10)] = "") -> HTMLResponse:
    period = periode if periode in impact_service.PERIODS else impact_service.DEFAULT_PERIOD
    figures = await ctx.runtime.run_db(ctx.impact_v2, period)
    chart = actions_by_month_svg(figures["actions_by_month"], figures["threshold"])
    return _render(ctx, request, "impact.html", figures=figures, periods=impact_service.PERIODS, chart=chart)


@router.get("/confidentialite")
async def privacy(request: Request, ctx: Ctx) -> HTMLResponse:
    return _render(ctx, request, "confidentialite.html", retention_days=ctx.settings.retention_days,
                   campaign_retention_days=ctx.settings.campaign_contact_retention_days)


@router.get("/accessibilite")
async def accessibility(request: Request, ctx: Ctx) -> HTMLResponse:
    return _render(ctx, request, "accessibilite.html")


