"""RBE self-service without passwords: e-mail -> magic link -> edit their lycées."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from services.catalog import metrics
from services.catalog import repository as repo
from services.catalog.api import State
from services.catalog.mailer import magic_link_message, send
from services.catalog.rbe_profile import editor_data, render_editor
from services.catalog.rbe_session import COOKIE, templates
from services.catalog.rbe_session import checked_form as _checked_form
from services.catalog.rbe_session import correlation_id as _cid
from services.catalog.rbe_session import expired_page as _expired_page
from services.catalog.rbe_session import rbe_session as _session
from services.catalog.service.directory import normalize_email
from services.catalog.service.magic import (
    LinkError,
    csrf_token,
    issue_link_token,
    issue_session,
    verify_link_token,
)
from services.catalog.service.profile import completeness
from services.catalog.service.queries import NEED_LABELS
from services.catalog.service.rbe_edits import EditError, update_absence, update_lycee
from shared.contracts.events import NEED_TYPES
from shared.platform.clock import utcnow
from shared.platform.db import unit_of_work
from shared.platform.http import Runtime
from shared.platform.ratelimit import SlidingWindowLimiter

router = APIRouter(prefix="/espace-rbe", include_in_schema=False)
# An RBE needs one link to log in; a few allow for a lost email. More would let anyone flood an inbox.
LINKS_PER_ADDRESS_PER_HOUR = 3
LINKS_PER_IP_PER_HOUR = 10  # a lycée's staff may share one address on the académie's network

@router.get("", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "rbe_login.html", {"sent": False, "error": None, "email": ""})


@router.post("", response_class=HTMLResponse)
async def ask_link(request: Request, runtime: Runtime) -> HTMLResponse:
    form = await request.form()
    typed = str(form.get("email", ""))[:254]
    try:
        email = normalize_email(typed)
    except ValueError:
        return templates.TemplateResponse(request, "rbe_login.html", {
            "sent": False, "email": typed, "error": "Adresse électronique invalide : vérifiez sa saisie (ex. prenom.nom@ac-lyon.fr)."},
            status_code=422)
    limiter = _ip_limiter(request)
    ip = request.client.host if request.client else "inconnu"
    if not limiter.hit(ip):
        metrics.MAGIC_LINKS.labels("rate_limited").inc()
        page = templates.TemplateResponse(request, "rbe_login.html", {
            "sent": False, "email": "", "error": "Trop de demandes de lien depuis votre connexion : réessayez dans une heure."},
            status_code=429)
        page.headers["Retry-After"] = str(limiter.retry_after(ip))
        return page
    settings = runtime.settings

    def issue() -> tuple[str | None, str]:
        with unit_of_work(runtime.engine) as session:
            if repo.get_rbe(session, email) is None or not repo.uais_of_rbe(session, email):
                return None, "unknown_address"
            if repo.magic_links_since(session, email, utcnow() - timedelta(hours=1)) >= LINKS_PER_ADDRESS_PER_HOUR:
                return None, "rate_limited"
            token, claim = issue_link_token(settings.secret_key, email)
            repo.record_magic_link(session, claim.token_id, email)
            return token, "sent"

    token, outcome = await runtime.run_db(issue)
    # The same page, status and timing whatever the address: the email leaves after the response, so
    # neither the answer nor its delay tells whether the address is in the directory.
    tasks = BackgroundTasks()
    if token:
        link = f"{settings.catalog_public_url.rstrip('/')}/espace-rbe/connexion?jeton={token}"
        tasks.add_task(_send_link, settings, email, link)
    else:
        metrics.MAGIC_LINKS.labels(outcome).inc()
    return templates.TemplateResponse(request, "rbe_login.html", {"sent": True, "email": "", "error": None},
                                      background=tasks)


async def _send_link(settings, email: str, link: str) -> None:
    sent = await send(settings, magic_link_message(settings, email, link))
    metrics.MAGIC_LINKS.labels("sent" if sent else "send_failed").inc()


def _ip_limiter(request: Request) -> SlidingWindowLimiter:
    app = request.app
    if not hasattr(app.state, "magic_link_ip_limiter"):
        app.state.magic_link_ip_limiter = SlidingWindowLimiter(LINKS_PER_IP_PER_HOUR, 3600)
    return app.state.magic_link_ip_limiter


LINK_REFUSALS = {
    "used": "Ce lien a déjà été utilisé. Pour des raisons de sécurité, chaque lien ne sert qu'une fois : "
            "demandez-en un nouveau.",
    # Signed with our key but absent from the issued links: sent by another installation, or issued
    # before the database was reset. Never used here.
    "unknown": "Ce lien n'a pas été délivré par ce service (il vient peut-être d'une autre installation ou "
               "d'avant une réinitialisation) : il n'a jamais servi. Demandez-en un nouveau.",
}


@router.get("/connexion", response_class=HTMLResponse)
def open_link(request: Request, runtime: Runtime, jeton: str = "") -> Response:
    secret = runtime.settings.secret_key
    try:
        claim = verify_link_token(secret, jeton[:2000])
        with unit_of_work(runtime.engine) as session:
            outcome = repo.consume_magic_link(session, claim.token_id)
        if outcome != "ok":
            raise LinkError(outcome if outcome == "unknown" else "replayed", LINK_REFUSALS[outcome])
    except LinkError as exc:
        metrics.MAGIC_LINKS.labels(exc.kind).inc()
        return templates.TemplateResponse(request, "rbe_link_error.html", {"message": str(exc), "kind": exc.kind},
                                          status_code=400)
    metrics.MAGIC_LINKS.labels("opened").inc()
    response = RedirectResponse("/espace-rbe/mes-lycees", status_code=303)
    response.set_cookie(COOKIE, issue_session(secret, claim.email), max_age=7200, httponly=True, samesite="lax",
                        secure=runtime.settings.catalog_public_url.startswith("https"), path="/espace-rbe")
    return response


def _dashboard_data(runtime: Runtime, email: str, state=None) -> dict:
    extras = state.model.extras if state is not None else {}
    today = date.today()
    with Session(runtime.engine) as session:
        uais = repo.uais_of_rbe(session, email)
        settings = {u: repo.get_settings_row(session, u) for u in uais}
        return {"rbe": repo.get_rbe(session, email), "lycees": repo.lycees_by_uai(session, uais), "settings": settings,
                "completeness": {u: completeness(settings[u], extras.get(u), today,
                                                 all_partners=len(repo.partners_of(session, u))) for u in uais}}


def _dashboard(request: Request, data: dict, csrf: str, errors: dict | None = None,
               status: int = 200, saved: str | None = None) -> HTMLResponse:
    return templates.TemplateResponse(request, "rbe_dashboard.html", {
        **data, "csrf": csrf, "need_types": NEED_TYPES,
        "need_labels": NEED_LABELS, "errors": errors or {}, "saved": saved or request.query_params.get("ok"),
    }, status_code=status)


@router.get("/mes-lycees", response_class=HTMLResponse)
def dashboard(request: Request, runtime: Runtime, state: State) -> Response:
    session = _session(request, runtime)
    if session is None:
        return RedirectResponse("/espace-rbe", status_code=303)
    return _dashboard(request, _dashboard_data(runtime, session.email, state),
                      csrf_token(runtime.settings.secret_key, session))


@router.post("/lycees/{uai}", response_class=HTMLResponse)
async def save_lycee(uai: str, request: Request, runtime: Runtime, state: State) -> Response:
    session, form, csrf = await _checked_form(request, runtime)
    if session is None:
        return _expired_page(request)
    legacy = form.get("pfmp_periods")  # the free text of before the periods per class (API clients, old pages)
    draft = str(form.get("brouillon", ""))[:5000] or None

    def save() -> str:
        with unit_of_work(runtime.engine) as db:
            return update_lycee(db, session.email, uai.upper()[:8], str(form.get("pitch", "")),
                                [str(s) for s in form.getlist("services")], str(legacy) if legacy is not None else None,
                                str(form.get("monthly_capacity", "")), _cid(request), draft=draft)

    try:
        change = await runtime.run_db(save)
    except PermissionError as exc:
        return templates.TemplateResponse(request, "rbe_link_error.html", {"message": str(exc), "kind": "forbidden"},
                                          status_code=403)
    except EditError as exc:
        data = await runtime.run_db(editor_data, runtime, state, session.email, uai.upper()[:8])
        if data is None:
            return _expired_page(request)
        return render_editor(request, data, csrf, {"essentiel": exc.errors}, status=422)
    metrics.PROFILE_EDITS.labels(change).inc()
    await runtime.run_db(state.refresh)  # before the event leaves, so the matcher reads the new snapshot
    runtime.relay.wake()
    return RedirectResponse(f"/espace-rbe/lycees/{uai.upper()[:8]}?ok=essentiel#essentiel", status_code=303)


@router.post("/absence", response_class=HTMLResponse)
async def save_absence(request: Request, runtime: Runtime, state: State) -> Response:
    session, form, csrf = await _checked_form(request, runtime)
    if session is None:
        return _expired_page(request)
    def save() -> None:
        with unit_of_work(runtime.engine) as db:
            update_absence(db, session.email, str(form.get("absent_from", "")), str(form.get("absent_until", "")),
                           str(form.get("deputy_email", ""))[:254], _cid(request))

    try:
        await runtime.run_db(save)
    except PermissionError as exc:
        return templates.TemplateResponse(request, "rbe_link_error.html", {"message": str(exc), "kind": "forbidden"},
                                          status_code=403)
    except EditError as exc:
        data = await runtime.run_db(_dashboard_data, runtime, session.email, state)
        return _dashboard(request, data, csrf, {"absence": exc.errors}, status=422)
    metrics.PROFILE_EDITS.labels("absence").inc()
    await runtime.run_db(state.refresh)  # before the event leaves, so the matcher reads the new snapshot
    runtime.relay.wake()
    return RedirectResponse("/espace-rbe/mes-lycees?ok=absence", status_code=303)


@router.post("/deconnexion")
def logout() -> Response:
    response = RedirectResponse("/espace-rbe", status_code=303)
    response.delete_cookie(COOKIE, path="/espace-rbe")
    return response
