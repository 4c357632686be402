"""JSON admin routes of the notifier for the académie referents' back-office (served by the catalog, which
calls them with the admin token): requests nobody answered, a message to the company in the thread, a held
reply relayed or set aside. Thin: validate, call service/, commit at the boundary."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from services.notifier import repository as repo
from services.notifier.service.mailer import author_label
from services.notifier.service.referents import Actor, ReferentRefused, settle_held, write_to_company
from shared.platform.db import unit_of_work
from shared.platform.http import ADMIN_RESPONSES, VALIDATION_RESPONSES, Admin, ErrorOut

router = APIRouter(prefix="/api/v1/review", tags=["revue"])
IdempotencyKey = Annotated[str, Header(min_length=8, max_length=80, description="Une clé par action du référent")]
ACTION_RESPONSES: dict[int | str, dict] = {
    **ADMIN_RESPONSES, **VALIDATION_RESPONSES,
    404: {"model": ErrorOut, "description": "Inconnu (dans cette académie)"},
    409: {"model": ErrorOut, "description": "Déjà traité par un autre référent"},
    410: {"model": ErrorOut, "description": "Demande effacée"},
}


class UnansweredOut(BaseModel):
    """A request nobody answered after the reminders and escalations (the académie contact was copied)."""

    request_id: str
    company_name: str
    needs: list[str]
    academie: str | None
    routed_at: datetime
    gave_up_at: datetime
    asked: list[str]  # who was asked, and what became of it: « Lycée X (expired) »


class ActorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: str = Field(min_length=3, max_length=254, description="Adresse du référent qui agit")
    actor_name: str | None = Field(default=None, max_length=200)
    academie: str | None = Field(default=None, max_length=80, description="Académie du référent (portée)")

    def who(self) -> Actor:
        return Actor(self.actor.strip().lower(), self.actor_name, self.academie)


class MessageIn(ActorIn):
    text: str = Field(min_length=1, max_length=5000, description="Le message, en clair")


class SettleIn(ActorIn):
    release: bool = Field(description="true : transmettre au fil ; false : écarter")


class DoneOut(BaseModel):
    done: bool  # false: this idempotency key had already acted (nothing done twice)


@router.get("/unanswered", response_model=list[UnansweredOut], responses=ADMIN_RESPONSES,
            summary="Demandes restées sans réponse après relances et escalade")
def unanswered(request: Request, _: Admin,
               academie: Annotated[str | None, Query(max_length=80, description="Seulement cette académie")] = None,
               ) -> list[UnansweredOut]:
    with Session(request.app.state.runtime.engine) as session:
        out = []
        for thread in repo.given_up_threads(session, academie):
            people = repo.participants(session, thread.id)
            assert thread.gave_up_at is not None  # selected on it
            out.append(UnansweredOut(
                request_id=thread.request_id, company_name=thread.company_name,
                needs=[n for n in thread.needs.split(",") if n], academie=thread.academie, routed_at=thread.routed_at,
                gave_up_at=thread.gave_up_at,
                asked=[f"{author_label(p)} ({p.status})" for p in people if p.role in ("lead", "copy")],
            ))
    return out


def _run(request: Request, work) -> DoneOut:
    try:
        with unit_of_work(request.app.state.runtime.engine) as session:
            done = work(session, request.app.state.notifier.ctx)
    except ReferentRefused as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    if done:
        request.app.state.notifier.wake()
    return DoneOut(done=done)


@router.post("/requests/{request_id}/message", response_model=DoneOut, responses=ACTION_RESPONSES,
             summary="Écrire à l'entreprise dans le fil de sa demande (une fois par clé)")
def message(request_id: uuid.UUID, body: MessageIn, request: Request, _: Admin, idempotency_key: IdempotencyKey) -> DoneOut:
    return _run(request, lambda session, ctx: write_to_company(session, ctx, str(request_id), idempotency_key,
                                                               body.who(), body.text.strip()))


@router.post("/inbound/{inbound_id}", response_model=DoneOut, responses=ACTION_RESPONSES,
             summary="Transmettre ou écarter une réponse retenue (une fois)")
def settle(inbound_id: Annotated[str, Path(max_length=32)], body: SettleIn, request: Request, _: Admin,
           idempotency_key: IdempotencyKey) -> DoneOut:
    return _run(request, lambda session, ctx: settle_held(session, ctx, inbound_id, idempotency_key,
                                                          body.who(), body.release))
