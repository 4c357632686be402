"""One-click action pages: GET shows a confirmation (never changes anything: mail scanners
prefetch links), POST applies the action once. Refusals are French pages, never a 500. The same
for « Transmettre quand même » (a held reply), and the admin review list of held replies."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from services.notifier import repository as repo
from services.notifier.service import actions, senders
from services.notifier.service.authentication import domain_of, header_from
from services.notifier.service.inbound import parse
from services.notifier.service.mailer import NotifierContext, author_label
from shared.contracts.email_address import check_email
from shared.platform.db import unit_of_work
from shared.platform.http import ADMIN_RESPONSES, Admin
from shared.platform.web import make_templates

router = APIRouter(tags=["actions"])
templates = make_templates(Path(__file__).parent / "templates")

REFUSALS = {
    "invalid": "Ce lien n'est pas valide. Vérifiez qu'il a été copié en entier depuis le courriel.",
    "expired": "Ce lien a expiré. Répondez simplement au courriel pour donner suite à la demande.",
    "used": "Ce lien a déjà été utilisé : votre choix a bien été enregistré.",
    "erased": "Cette demande a été effacée à la demande de l'entreprise : ses données ont été supprimées et "
              "il n'y a plus rien à faire.",
    "erased_retention": "Cette demande a été effacée au terme de sa durée de conservation : ses données ont été "
                        "supprimées et il n'y a plus rien à faire.",
    "declined": "Vous avez indiqué que cette demande n'était pas pour vous : elle a été proposée à un autre "
                "établissement. Rien n'a été modifié.",
    "transferred": "Vous avez transféré cette demande à un collègue{to} : c'est désormais à lui ou à elle d'y "
                   "donner suite. Rien n'a été modifié.",
    "timed_out": "Le délai de réponse était dépassé : la demande a été confiée à {who_or_other}. Vous restez en "
                 "copie des échanges et pouvez toujours répondre au courriel.",
    "withdrawn": "L'entreprise a modifié sa demande (métier ou lieu) : votre établissement n'est plus concerné. "
                 "Rien n'a été modifié.",
    "already_yours": "Vous avez déjà indiqué vous occuper de cette demande : l'entreprise en est informée. "
                     "Répondez-lui simplement en répondant au courriel.",
    "answered": "Vous avez déjà répondu à l'entreprise par courriel : elle sait que vous vous occupez de sa demande. "
                "Rien d'autre à faire.",
    "taken": "{who} s'occupe déjà de cette demande et répond à l'entreprise. Rien n'a été modifié ; vous restez "
             "en copie des échanges et pouvez y répondre si vous pouvez aider.",
    "taken_answered": "{who} a déjà répondu à l'entreprise et s'occupe de sa demande. Rien n'a été modifié ; "
                      "vous restez en copie des échanges et pouvez y répondre si vous pouvez aider.",
    "not_yours": "Cette demande ne vous est plus attribuée.",
    "bad_email": "Indiquez l'adresse électronique valide d'un collègue (différente de la vôtre).",
    "own_email": "C'est votre propre adresse : indiquez celle du collègue à qui transférer la demande.",
}
# A refusal about the request's state (not about the link itself) answers 409; an erased request, 410.
STATUS = {"invalid": 400, "expired": 410, "used": 410, "erased": 410}


def refusal_message(exc: actions.ActionRefused) -> str:
    """What actually happened, in French, for a refused action."""
    key = exc.reason
    if key == "erased" and exc.status == "retention":
        key = "erased_retention"
    if key == "taken" and exc.status == "answered":
        key = "taken_answered"
    return REFUSALS.get(key, REFUSALS["invalid"]).format(
        who=exc.who or "Un autre lycée", to=f" ({exc.who})" if exc.who else "",
        who_or_other=exc.who or "un autre établissement")


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


def _refused(request: Request, exc: actions.ActionRefused) -> HTMLResponse:
    return templates.TemplateResponse(request, "action_result.html", {
        "title": "Action impossible", "message": refusal_message(exc), "ok": False,
    }, status_code=STATUS.get(exc.reason, 409))


@router.get("/actions/{token}", response_class=HTMLResponse, summary="Confirmer une action en un clic")
def confirm_action(request: Request, token: str, ctx: Ctx) -> HTMLResponse:
    try:
        with unit_of_work(ctx_engine(request)) as session:
            pending = actions.check(session, ctx, token)
            page = {"label": pending.label, "action": pending.claim.action, "token": token,
                    "company": pending.thread.company_name, "who": author_label(pending.participant), "error": None}
    except actions.ActionRefused as exc:
        return _refused(request, exc)
    return templates.TemplateResponse(request, "action_confirm.html", page)


@router.post("/actions/{token}", response_class=HTMLResponse, summary="Appliquer une action en un clic")
def apply_action(request: Request, token: str, ctx: Ctx,
                 colleague_email: Annotated[str | None, Form()] = None) -> HTMLResponse:
    colleague, problem = None, None
    typed = (colleague_email or "").strip()
    if typed:
        # The same rules as intake's form: a typo in a well-known domain is refused with its fix.
        colleague, problem = check_email(typed) if len(typed) <= 320 else (None, REFUSALS["bad_email"])
    if problem is not None:
        return _retry_transfer(request, ctx, token, problem)  # a dead link still says why it is dead
    try:
        with unit_of_work(ctx_engine(request)) as session:
            pending = actions.apply(session, ctx, token, transfer_to=colleague)
    except actions.ActionRefused as exc:
        if exc.reason == "bad_email":
            return _retry_transfer(request, ctx, token, REFUSALS[exc.detail or "bad_email"])
        return _refused(request, exc)
    except IntegrityError:  # the same token applied concurrently
        return _refused(request, actions.ActionRefused("used"))
    request.app.state.notifier.wake()
    return templates.TemplateResponse(request, "action_result.html", {
        "title": "C'est enregistré", "message": DONE[pending.claim.action], "ok": True,
    })


def _retry_transfer(request: Request, ctx: NotifierContext, token: str, problem: str | None) -> HTMLResponse:
    try:
        with unit_of_work(ctx_engine(request)) as session:
            pending = actions.check(session, ctx, token)
            page = {"label": pending.label, "action": "transfer", "token": token,
                    "company": pending.thread.company_name, "who": author_label(pending.participant),
                    "error": problem or REFUSALS["bad_email"]}
    except actions.ActionRefused as exc:
        return _refused(request, exc)
    return templates.TemplateResponse(request, "action_confirm.html", page, status_code=422)


def ctx_engine(request: Request):
    return request.app.state.runtime.engine


# ------------------------------------------------------------------ « Transmettre quand même »
RELEASE_REFUSALS = {
    "invalid": REFUSALS["invalid"],
    "expired": "Ce lien a expiré : le message n'a pas été transmis. Demandez à l'expéditeur de vous l'envoyer, "
               "puis transmettez-le en répondant au courriel.",
    "used": "Ce lien a déjà été utilisé : le message a bien été transmis une fois.",
    "gone": "Ce message a déjà été transmis. Rien n'a été modifié.",
    "erased": REFUSALS["erased"],
}
RELEASE_STATUS = {"invalid": 400, "expired": 410, "used": 410, "gone": 410, "erased": 410}


def _release_refused(request: Request, exc: senders.ReleaseRefused) -> HTMLResponse:
    return templates.TemplateResponse(request, "action_result.html", {
        "title": "Action impossible", "message": RELEASE_REFUSALS.get(exc.reason, REFUSALS["invalid"]), "ok": False,
    }, status_code=RELEASE_STATUS.get(exc.reason, 409))


@router.get("/relais/{token}", response_class=HTMLResponse, summary="Confirmer la transmission d'un message retenu")
def confirm_release(request: Request, token: str, ctx: Ctx) -> HTMLResponse:
    try:
        with unit_of_work(ctx_engine(request)) as session:
            pending = senders.check_release(session, ctx, token)
            page = {"token": token, "company": pending.thread.company_name, "sender": pending.sender,
                    "who": author_label(pending.participant)}
    except senders.ReleaseRefused as exc:
        return _release_refused(request, exc)
    return templates.TemplateResponse(request, "release_confirm.html", page)


@router.post("/relais/{token}", response_class=HTMLResponse, summary="Transmettre un message retenu (une fois)")
def apply_release(request: Request, token: str, ctx: Ctx) -> HTMLResponse:
    try:
        with unit_of_work(ctx_engine(request)) as session:
            _, outcome = senders.release(session, ctx, token)
    except senders.ReleaseRefused as exc:
        return _release_refused(request, exc)
    except IntegrityError:  # the same link applied concurrently
        return _release_refused(request, senders.ReleaseRefused("used"))
    request.app.state.notifier.wake()
    message = ("C'est fait : le message a été transmis aux autres participants. Les prochains messages de cet "
               "expéditeur dans cette demande seront transmis directement." if outcome == "accepted" else
               "C'est noté : ce message avait déjà été transmis, ou ne contenait rien à transmettre. Les prochains "
               "messages de cet expéditeur dans cette demande seront transmis directement.")
    return templates.TemplateResponse(request, "action_result.html", {
        "title": "C'est enregistré", "message": message, "ok": True,
    })


# ------------------------------------------------------------------ review list (admin)
class HeldInboundOut(BaseModel):
    """A held reply, without its body nor any full address (the sender's domain only)."""

    inbound_id: str
    request_id: str | None
    participant_role: str | None
    reason: str
    sender_domain: str
    dkim: str | None
    spf: str | None
    aligned: bool | None
    received_at: datetime
    company_name: str | None = None
    academie: str | None = None


@router.get("/api/v1/review/inbound", response_model=list[HeldInboundOut], tags=["revue"], responses=ADMIN_RESPONSES,
            summary="Réponses retenues (expéditeur non reconnu ou non authentifié), sans leur contenu")
def list_held(request: Request, _: Admin,
              academie: Annotated[str | None, Query(max_length=80, description="Seulement cette académie")] = None,
              ) -> list[HeldInboundOut]:
    out = []
    with Session(ctx_engine(request)) as session:
        for row in repo.held_inbound(session, academie=academie):
            thread = repo.thread(session, row.thread_id) if row.thread_id else None
            person = repo.participant(session, row.participant_id) if row.participant_id else None
            auth = senders.auth_of(row)
            try:
                sender = header_from(parse(row.raw)) if row.raw else ""
            except Exception:
                sender = ""
            out.append(HeldInboundOut(
                inbound_id=row.id, request_id=thread.request_id if thread else None,
                participant_role=person.role if person else None, reason=row.hold_reason or "unknown_sender",
                sender_domain=domain_of(sender or row.mail_from), dkim=auth.get("dkim"), spf=auth.get("spf"),
                aligned=auth.get("aligned"), received_at=row.received_at,
                company_name=thread.company_name if thread else None, academie=thread.academie if thread else None,
            ))
    return out
