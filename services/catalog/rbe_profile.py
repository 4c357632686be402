"""The RBE's editor of one lycée's profile (issue 22): every part optional, each part its own small form."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from services.catalog import metrics
from services.catalog import repository as repo
from services.catalog.api import State
from services.catalog.rbe_session import (
    checked_form,
    correlation_id,
    expired_page,
    rbe_session,
    refused_page,
    templates,
)
from services.catalog.service import profile_edits as edits
from services.catalog.service.images import MAX_BYTES, ImageRefused
from services.catalog.service.magic import csrf_token
from services.catalog.service.pitch import draft_pitch
from services.catalog.service.profile import EVENT_KINDS, completeness, event_when
from services.catalog.service.queries import NEED_LABELS, formations_of
from services.catalog.service.rbe_edits import EditError
from shared.contracts.events import NEED_TYPES
from shared.platform.db import unit_of_work
from shared.platform.http import Runtime
from shared.reference.periods import PFMP_CLASSES, Period

router = APIRouter(prefix="/espace-rbe", include_in_schema=False)


def editor_data(runtime: Runtime, state, email: str, uai: str) -> dict | None:
    """Everything the editor shows; None when the lycée is not the RBE's."""
    model = state.model
    with Session(runtime.engine) as session:
        if uai not in repo.uais_of_rbe(session, email) or uai not in model.lycees:
            return None
        settings = repo.get_settings_row(session, uai)
        partners = repo.partners_of(session, uai)
        data = {
            "lycee": model.lycees[uai], "s": settings, "pfmp": repo.pfmp_periods_of(session, uai),
            "events": repo.events_of(session, uai), "partners": partners,
            "draft": draft_pitch(model, uai, repo.insertion_for(session, uai)),
        }
    today = date.today()
    data["formations"] = formations_of(model, uai)
    data["image"] = (model.extras.get(uai).image if model.extras.get(uai) else None)
    data["completeness"] = completeness(settings, model.extras.get(uai), today, all_partners=len(partners))
    data["today"] = today
    return data


def render_editor(request: Request, data: dict, csrf: str, errors: dict | None = None, status: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(request, "rbe_profile.html", {
        **data, "csrf": csrf, "need_types": NEED_TYPES, "need_labels": NEED_LABELS, "classes": PFMP_CLASSES,
        "event_kinds": EVENT_KINDS, "event_when": event_when, "errors": errors or {},
        "saved": request.query_params.get("ok"), "period_of": Period.from_code, "max_mb": MAX_BYTES // (1024 * 1024),
    }, status_code=status)


NOT_YOURS = "Ce lycée ne fait pas partie de ceux dont vous êtes responsable."


@router.get("/lycees/{uai}", response_class=HTMLResponse)
async def editor(uai: str, request: Request, runtime: Runtime, state: State) -> Response:
    session = rbe_session(request, runtime)
    if session is None:
        return RedirectResponse("/espace-rbe", status_code=303)
    data = await runtime.run_db(editor_data, runtime, state, session.email, uai.upper()[:8])
    if data is None:
        return refused_page(request, NOT_YOURS)
    return render_editor(request, data, csrf_token(runtime.settings.secret_key, session))


async def _edit(request: Request, runtime: Runtime, state, uai: str, part: str,
                change: Callable[[Session, str, dict], None]) -> Response:
    """One part's form: check the session and CSRF, apply, refresh, redirect; errors re-render the editor."""
    session, form, csrf = await checked_form(request, runtime)
    if session is None or csrf is None:
        return expired_page(request)
    uai = uai.upper()[:8]
    values: dict = {k: v for k, v in form.items()}

    def save() -> None:
        with unit_of_work(runtime.engine) as db:
            change(db, session.email, values)

    try:
        await runtime.run_db(save)
    except PermissionError as exc:
        return refused_page(request, str(exc))
    except (EditError, ImageRefused) as exc:
        data = await runtime.run_db(editor_data, runtime, state, session.email, uai)
        if data is None:
            return refused_page(request, NOT_YOURS)
        found = exc.errors if isinstance(exc, EditError) else {"image": str(exc)}
        return render_editor(request, data, csrf, {part: found}, status=422)
    metrics.PROFILE_EDITS.labels("profile").inc()
    await runtime.run_db(state.refresh)  # before the event leaves, so the matcher reads the new snapshot
    runtime.relay.wake()
    return RedirectResponse(f"/espace-rbe/lycees/{uai}?ok={part}#{part}", status_code=303)


def _text(values: dict) -> dict[str, str]:
    return {k: v for k, v in values.items() if isinstance(v, str)}


@router.post("/lycees/{uai}/vitrine", response_class=HTMLResponse)
async def save_showcase(uai: str, request: Request, runtime: Runtime, state: State) -> Response:
    return await _edit(request, runtime, state, uai, "vitrine", lambda db, email, v: edits.update_showcase(
        db, email, uai.upper()[:8], _text(v), correlation_id(request)))


@router.post("/lycees/{uai}/partenaires", response_class=HTMLResponse)
async def save_partners(uai: str, request: Request, runtime: Runtime, state: State) -> Response:
    return await _edit(request, runtime, state, uai, "partenaires", lambda db, email, v: edits.update_partners(
        db, email, uai.upper()[:8], _text(v), correlation_id(request)))


@router.post("/lycees/{uai}/evenements", response_class=HTMLResponse)
async def add_event(uai: str, request: Request, runtime: Runtime, state: State) -> Response:
    return await _edit(request, runtime, state, uai, "evenements", lambda db, email, v: edits.add_event(
        db, email, uai.upper()[:8], _text(v), date.today(), correlation_id(request)))


@router.post("/lycees/{uai}/pfmp", response_class=HTMLResponse)
async def add_pfmp(uai: str, request: Request, runtime: Runtime, state: State) -> Response:
    cfds = set(state.model.offers.get(uai.upper()[:8], {}))
    return await _edit(request, runtime, state, uai, "pfmp", lambda db, email, v: edits.add_pfmp(
        db, email, uai.upper()[:8], _text(v), cfds, correlation_id(request)))


@router.post("/lycees/{uai}/{what}/{row_id}/suppression", response_class=HTMLResponse)
async def delete_item(uai: str, what: str, row_id: int, request: Request, runtime: Runtime, state: State) -> Response:
    if what not in ("evenements", "pfmp"):
        return refused_page(request, "Élément inconnu.")
    return await _edit(request, runtime, state, uai, what, lambda db, email, v: edits.delete_item(
        db, email, uai.upper()[:8], what, row_id, correlation_id(request)))


@router.post("/lycees/{uai}/image", response_class=HTMLResponse)
async def upload_image(uai: str, request: Request, runtime: Runtime, state: State) -> Response:
    if int(request.headers.get("content-length") or 0) > MAX_BYTES + 100_000:
        return refused_page(request, "L'image dépasse 5 Mo : réduisez-la avant de l'envoyer.", status=413)

    def change(db: Session, email: str, values: dict) -> None:
        if values.get("supprimer"):
            edits.remove_image(db, email, uai.upper()[:8], correlation_id(request))
            return
        upload = values.get("fichier")
        data = upload.file.read(MAX_BYTES + 1) if upload is not None and hasattr(upload, "file") else b""
        edits.save_image(db, email, uai.upper()[:8], str(values.get("kind", "")), data, correlation_id(request))

    return await _edit(request, runtime, state, uai, "image", change)
