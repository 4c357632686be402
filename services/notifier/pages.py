"""One-click action pages: GET shows a confirmation (never changes anything: mail scanners
prefetch links), POST applies the action once. Refusals are French pages, never a 500."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.exc import IntegrityError

from services.notifier.service import actions
from services.notifier.service.mailer import NotifierContext, author_label
from shared.platform.db import unit_of_work
from shared.platform.web import make_templates

router = APIRouter(tags=["actions"])
templates = make_templates(Path(__file__).parent / "templates")

REFUSALS = {
    "invalid": "Ce lien n'est pas valide. Vérifiez qu'il a été copié en entier depuis le courriel.",
    "expired": "Ce lien a expiré. Répondez simplement au courriel pour donner suite à la demande.",
    "used": "Ce lien a déjà été utilisé : votre choix a bien été enregistré.",
    "not_yours": "Cette demande ne vous est plus attribuée ou a déjà été traitée.",
    "bad_email": "Indiquez l'adresse électronique valide d'un collègue (différente de la vôtre).",
}
DONE = {
    "accept": "Merci ! L'entreprise est informée que vous vous occupez de sa demande. Répondez-lui simplement "
              "en répondant au courriel.",
    "decline": "C'est noté : la demande va être proposée à un autre établissement. Merci de votre réponse.",
    "transfer": "C'est noté : votre collègue a reçu la demande et peut y répondre directement.",
}


# async although it never awaits: FastAPI runs a plain def dependency on its thread pool.
async def get_ctx(request: Request) -> NotifierContext:
    return request.app.state.notifier.ctx


Ctx = Annotated[NotifierContext, Depends(get_ctx)]


def _refused(request: Request, reason: str, status: int = 400) -> HTMLResponse:
    return templates.TemplateResponse(request, "action_result.html", {
        "title": "Action impossible", "message": REFUSALS.get(reason, REFUSALS["invalid"]), "ok": False,
    }, status_code=status)


@router.get("/actions/{token}", response_class=HTMLResponse, summary="Confirmer une action en un clic")
def confirm_action(request: Request, token: str, ctx: Ctx) -> HTMLResponse:
    try:
        with unit_of_work(ctx_engine(request)) as session:
            pending = actions.check(session, ctx, token)
            page = {"label": pending.label, "action": pending.claim.action, "token": token,
                    "company": pending.thread.company_name, "who": author_label(pending.participant), "error": None}
    except actions.ActionRefused as exc:
        return _refused(request, exc.reason, 410 if exc.reason in ("expired", "used") else 400)
    return templates.TemplateResponse(request, "action_confirm.html", page)


@router.post("/actions/{token}", response_class=HTMLResponse, summary="Appliquer une action en un clic")
def apply_action(request: Request, token: str, ctx: Ctx,
                 colleague_email: Annotated[str | None, Form()] = None) -> HTMLResponse:
    colleague = None
    if colleague_email and len(colleague_email) <= 320:
        try:
            colleague = validate_email(colleague_email.strip(), check_deliverability=False).normalized
        except EmailNotValidError:
            colleague = None
    try:
        with unit_of_work(ctx_engine(request)) as session:
            pending = actions.apply(session, ctx, token, transfer_to=colleague)
    except actions.ActionRefused as exc:
        if exc.reason == "bad_email":
            return _retry_transfer(request, ctx, token)
        return _refused(request, exc.reason, 410 if exc.reason in ("expired", "used") else 400)
    except IntegrityError:  # the same token applied concurrently
        return _refused(request, "used", 410)
    request.app.state.notifier.wake()
    return templates.TemplateResponse(request, "action_result.html", {
        "title": "C'est enregistré", "message": DONE[pending.claim.action], "ok": True,
    })


def _retry_transfer(request: Request, ctx: NotifierContext, token: str) -> HTMLResponse:
    try:
        with unit_of_work(ctx_engine(request)) as session:
            pending = actions.check(session, ctx, token)
            page = {"label": pending.label, "action": "transfer", "token": token,
                    "company": pending.thread.company_name, "who": author_label(pending.participant),
                    "error": REFUSALS["bad_email"]}
    except actions.ActionRefused as exc:
        return _refused(request, exc.reason)
    return templates.TemplateResponse(request, "action_confirm.html", page, status_code=422)


def ctx_engine(request: Request):
    return request.app.state.runtime.engine
