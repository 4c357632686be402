"""The outcome choice pages: GET shows the choice and an optional free text (never changes anything:
mail scanners prefetch links), POST records it once. Refusals are French pages, never a 500."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.exc import IntegrityError

from services.notifier.outcomes import questions
from services.notifier.pages import REFUSALS, Ctx, ctx_engine, templates
from shared.contracts.events import OUTCOME_LABELS
from shared.platform.db import unit_of_work

router = APIRouter(tags=["suites"])

STATUS = {"invalid": 400, "expired": 410, "used": 410, "erased": 410}
EXPIRED = "Ce lien a expiré. Vous pouvez répondre simplement au courriel pour nous dire ce qui en est sorti."
NOTE_TOO_LONG = f"Votre précision est trop longue : {questions.NOTE_MAX} caractères au plus."


def refusal_message(exc: questions.OutcomeRefused) -> str:
    if exc.reason == "used":
        said = f" (« {OUTCOME_LABELS[exc.kind]} »)" if exc.kind in OUTCOME_LABELS else ""
        return f"Ce lien a déjà été utilisé : votre réponse{said} est enregistrée. Rien n'a été modifié."
    if exc.reason == "expired":
        return EXPIRED
    if exc.reason == "erased":
        return REFUSALS["erased_retention" if exc.status == "retention" else "erased"]
    return REFUSALS["invalid"]


def _refused(request: Request, exc: questions.OutcomeRefused) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "action_result.html",
        {
            "title": "Réponse impossible",
            "message": refusal_message(exc),
            "ok": False,
        },
        status_code=STATUS.get(exc.reason, 409),
    )


def _confirm(
    request: Request, ctx: Ctx, token: str, note: str = "", error: str | None = None
) -> HTMLResponse:
    try:
        with unit_of_work(ctx_engine(request)) as session:
            pending = questions.check(session, ctx, token)
            page = {
                "label": pending.label,
                "token": token,
                "company": pending.thread.company_name,
                "respondent": pending.question.respondent,
                "note": note,
                "error": error,
                "note_max": questions.NOTE_MAX,
            }
    except questions.OutcomeRefused as exc:
        return _refused(request, exc)
    return templates.TemplateResponse(
        request, "outcome_confirm.html", page, status_code=422 if error else 200
    )


@router.get("/suite/{token}", response_class=HTMLResponse, summary="Confirmer ce qui est sorti d'une demande")
def confirm_outcome(request: Request, token: str, ctx: Ctx) -> HTMLResponse:
    return _confirm(request, ctx, token)


@router.post(
    "/suite/{token}",
    response_class=HTMLResponse,
    summary="Enregistrer ce qui est sorti d'une demande (une fois)",
)
def record_outcome(
    request: Request, token: str, ctx: Ctx, note: Annotated[str | None, Form(max_length=20_000)] = None
) -> HTMLResponse:
    typed = (note or "").strip()
    if len(typed) > questions.NOTE_MAX:
        return _confirm(request, ctx, token, typed, NOTE_TOO_LONG)
    try:
        with unit_of_work(ctx_engine(request)) as session:
            pending = questions.answer(session, ctx, token, typed)
    except questions.OutcomeRefused as exc:
        return _refused(request, exc)
    except IntegrityError:  # the same question answered concurrently
        return _refused(request, questions.OutcomeRefused("used"))
    request.app.state.notifier.wake()
    message = f"Merci ! Votre réponse « {pending.label} » est enregistrée." + (
        " Nous vous reposerons la question plus tard."
        if pending.kind == "rien_encore" and pending.question.asked_round < questions.LAST_ROUND
        else ""
    )
    return templates.TemplateResponse(
        request,
        "action_result.html",
        {
            "title": "C'est enregistré",
            "message": message,
            "ok": True,
        },
    )
