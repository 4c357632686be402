"""RBE self-service without passwords: e-mail -> magic link -> edit their lycées."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from services.catalog import metrics
from services.catalog import repository as repo
from services.catalog.api import State
from services.catalog.rbe_profile import editor_data, render_editor
from services.catalog.rbe_session import SPACE, templates
from services.catalog.rbe_session import correlation_id as _cid
from services.catalog.service.profile import completeness
from services.catalog.service.queries import NEED_LABELS
from services.catalog.service.rbe_edits import EditError, update_absence, update_lycee
from shared.contracts.events import NEED_TYPES
from shared.platform.db import unit_of_work
from shared.platform.http import Runtime

router = APIRouter(prefix="/espace-rbe", include_in_schema=False)


SPACE.add_login_routes(router)


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
    session = SPACE.session(request, runtime)
    if session is None:
        return RedirectResponse("/espace-rbe", status_code=303)
    return _dashboard(request, _dashboard_data(runtime, session.email, state), SPACE.csrf(runtime, session))


def _expired_page(request: Request) -> HTMLResponse:
    return SPACE.expired_page(request)


@router.post("/lycees/{uai}", response_class=HTMLResponse)
async def save_lycee(uai: str, request: Request, runtime: Runtime, state: State) -> Response:
    session, form, csrf = await SPACE.checked_form(request, runtime)
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
        data = await runtime.run_db(_dashboard_data, runtime, session.email, state)
        return _dashboard(request, data, csrf, {"absence": exc.errors}, status=422)
    metrics.PROFILE_EDITS.labels("absence").inc()
    await runtime.run_db(state.refresh)  # before the event leaves, so the matcher reads the new snapshot
    runtime.relay.wake()
    return RedirectResponse("/espace-rbe/mes-lycees?ok=absence", status_code=303)
