"""RBE self-service without passwords: e-mail -> magic link -> edit their lycées."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from services.catalog import metrics
from services.catalog import repository as repo
from services.catalog.api import State
from services.catalog.magic_login import MagicSpace
from services.catalog.mailer import magic_link_message
from services.catalog.service.magic import RBE_LINK, RBE_SESSION
from services.catalog.service.queries import NEED_LABELS
from services.catalog.service.rbe_edits import EditError, update_absence, update_lycee
from shared.contracts.events import NEED_TYPES
from shared.platform.db import unit_of_work
from shared.platform.http import Runtime
from shared.platform.web import make_templates

router = APIRouter(prefix="/espace-rbe", include_in_schema=False)
templates = make_templates(Path(__file__).parent / "templates")
COOKIE = "mlp_rbe"


def _known_rbe(session: Session, email: str) -> bool:
    return repo.get_rbe(session, email) is not None and bool(repo.uais_of_rbe(session, email))


SPACE = MagicSpace(prefix="/espace-rbe", home="/espace-rbe/mes-lycees", cookie=COOKIE, link_purpose=RBE_LINK,
                   session_purpose=RBE_SESSION, templates=templates, login_template="rbe_login.html",
                   error_template="rbe_link_error.html", known=_known_rbe, message=magic_link_message)


def _cid(request: Request) -> str:
    return getattr(request.state, "correlation_id", "rbe")


SPACE.add_login_routes(router)


def _dashboard_data(runtime: Runtime, email: str) -> dict:
    with Session(runtime.engine) as session:
        uais = repo.uais_of_rbe(session, email)
        return {"rbe": repo.get_rbe(session, email), "lycees": repo.lycees_by_uai(session, uais),
                "settings": {u: repo.get_settings_row(session, u) for u in uais}}


def _dashboard(request: Request, data: dict, csrf: str, errors: dict | None = None,
               status: int = 200, saved: str | None = None) -> HTMLResponse:
    return templates.TemplateResponse(request, "rbe_dashboard.html", {
        **data, "csrf": csrf, "need_types": NEED_TYPES,
        "need_labels": NEED_LABELS, "errors": errors or {}, "saved": saved or request.query_params.get("ok"),
    }, status_code=status)


@router.get("/mes-lycees", response_class=HTMLResponse)
def dashboard(request: Request, runtime: Runtime) -> Response:
    session = SPACE.session(request, runtime)
    if session is None:
        return RedirectResponse("/espace-rbe", status_code=303)
    return _dashboard(request, _dashboard_data(runtime, session.email), SPACE.csrf(runtime, session))


def _expired_page(request: Request) -> HTMLResponse:
    return SPACE.expired_page(request)


@router.post("/lycees/{uai}", response_class=HTMLResponse)
async def save_lycee(uai: str, request: Request, runtime: Runtime, state: State) -> Response:
    session, form, csrf = await SPACE.checked_form(request, runtime)
    if session is None:
        return _expired_page(request)
    def save() -> str:
        with unit_of_work(runtime.engine) as db:
            return update_lycee(db, session.email, uai.upper()[:8], str(form.get("pitch", "")),
                                [str(s) for s in form.getlist("services")], str(form.get("pfmp_periods", "")),
                                str(form.get("monthly_capacity", "")), _cid(request))

    try:
        change = await runtime.run_db(save)
    except PermissionError as exc:
        return templates.TemplateResponse(request, "rbe_link_error.html", {"message": str(exc), "kind": "forbidden"},
                                          status_code=403)
    except EditError as exc:
        data = await runtime.run_db(_dashboard_data, runtime, session.email)
        return _dashboard(request, data, csrf, {uai.upper(): exc.errors}, status=422)
    metrics.PROFILE_EDITS.labels(change).inc()
    await runtime.run_db(state.refresh)  # before the event leaves, so the matcher reads the new snapshot
    runtime.relay.wake()
    return RedirectResponse(f"/espace-rbe/mes-lycees?ok={uai.upper()[:8]}", status_code=303)


@router.post("/absence", response_class=HTMLResponse)
async def save_absence(request: Request, runtime: Runtime, state: State) -> Response:
    session, form, csrf = await SPACE.checked_form(request, runtime)
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
        data = await runtime.run_db(_dashboard_data, runtime, session.email)
        return _dashboard(request, data, csrf, {"absence": exc.errors}, status=422)
    metrics.PROFILE_EDITS.labels("absence").inc()
    await runtime.run_db(state.refresh)  # before the event leaves, so the matcher reads the new snapshot
    runtime.relay.wake()
    return RedirectResponse("/espace-rbe/mes-lycees?ok=absence", status_code=303)
