"""The académie referents' back-office (/referents): magic-link login as in the RBE space, then what
routing could not settle in their académie, and only theirs: the review queue, the held replies and the
requests nobody answered. The data and the actions belong to the matcher and the notifier (HTTP, admin
token, académie filter); the catalog owns the login, the directory and the lycée search."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from services.catalog import repository as repo
from services.catalog.api import State
from services.catalog.backoffice_client import BackofficeClient, Refused, Unavailable
from services.catalog.magic_login import MagicSpace
from services.catalog.mailer import referent_link_message
from services.catalog.service.magic import REFERENT_LINK, REFERENT_SESSION
from services.catalog.service.network_coverage import CoverageLine, network_coverage
from services.catalog.service.queries import NEED_LABELS, CatalogError, search_lycees
from shared.platform.http import Runtime
from shared.platform.service import ServiceRuntime
from shared.platform.web import make_templates
from shared.reference.geo import load_communes

router = APIRouter(prefix="/referents", include_in_schema=False)
templates = make_templates(Path(__file__).parent / "templates")
PARIS = ZoneInfo("Europe/Paris")
UNAVAILABLE = "Cette liste est momentanément indisponible (service injoignable) : réessayez dans un instant."
DONE = {
    "attribuer": "La demande est confiée au lycée choisi : son RBE la reçoit dans le fil de la demande.",
    "rerouter": "La demande a été routée à nouveau avec le métier ou le lieu corrigé.",
    "clore": "La demande est close.",
    "ecrire": "Votre message a été envoyé à l'entreprise, dans le fil de sa demande.",
    "transmettre": "La réponse retenue a été transmise aux participants.",
    "ecarter": "La réponse retenue a été écartée.",
}


@dataclass(frozen=True)
class Referent:
    email: str
    name: str
    academie: str
    generic: bool  # the académie's generic contact, standing in while it has no referent


def referent_of(session: Session, email: str) -> Referent | None:
    row = repo.get_referent(session, email)
    if row is not None:
        return Referent(row.email, row.name, row.academie, False)
    academie = repo.academie_contact_owner(session, email)
    return Referent(email, "Contact générique de l'académie", academie, True) if academie else None


def directory(runtime: ServiceRuntime) -> dict:
    """Who answers for each académie: its referents, else its generic contact (shown on the login page)."""
    with Session(runtime.engine) as session:
        named: dict[str, list[str]] = {}
        for row in repo.referents(session):
            named.setdefault(row.academie, []).append(row.name)
        fallbacks = repo.academie_fallbacks(session)
        return {"academies": [(a, named.get(a, []), a in fallbacks) for a in repo.academies(session)]}


SPACE = MagicSpace(prefix="/referents", home="/referents/tableau", cookie="mlp_referent", link_purpose=REFERENT_LINK,
                   session_purpose=REFERENT_SESSION, templates=templates, login_template="backoffice_login.html",
                   error_template="backoffice_error.html", known=lambda s, e: referent_of(s, e) is not None,
                   message=referent_link_message, login_context=directory)


def _moment(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value)) if not isinstance(value, datetime) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _when(value: Any) -> str:
    return _moment(value).astimezone(PARIS).strftime("%d/%m/%Y à %H:%M") if value else ""


templates.env.filters["quand"] = _when
templates.env.globals["need_labels"] = NEED_LABELS


async def _who(request: Request, runtime: ServiceRuntime) -> Referent | None:
    claim = SPACE.session(request, runtime)
    if claim is None:
        return None
    return await runtime.run_db(_lookup, runtime, claim.email)


def _lookup(runtime: ServiceRuntime, email: str) -> Referent | None:
    with Session(runtime.engine) as session:
        return referent_of(session, email)


async def _lists(client: BackofficeClient, academie: str) -> dict:
    """The three lists, fetched together; a service that does not answer leaves its list unavailable."""
    results: list[Any] = list(await asyncio.gather(client.review(academie, include_handled=True), client.held(academie),
                                                   client.unanswered(academie), return_exceptions=True))
    for value in results:
        if isinstance(value, BaseException) and not isinstance(value, Unavailable | Refused):
            raise value
    items, held, unanswered = results
    handled = {i["request_id"]: i for i in items} if isinstance(items, list) else {}
    for row in unanswered if isinstance(unanswered, list) else []:
        done = handled.get(row["request_id"])  # acted on since the give-up: no second action offered
        row["handled"] = done if done and done.get("resolution") and _moment(done["handled_at"]) >= _moment(
            row["gave_up_at"]) else None
    return {
        "queue": [i for i in items if not i.get("resolution")] if isinstance(items, list) else None,
        "held": held if isinstance(held, list) else None,
        "unanswered": unanswered if isinstance(unanswered, list) else None,
        "handled": handled,
    }


SPACE.add_login_routes(router)


@router.get("/tableau", response_class=HTMLResponse)
async def dashboard(request: Request, runtime: Runtime, state: State) -> Response:
    who = await _who(request, runtime)
    if who is None:
        return RedirectResponse("/referents", status_code=303)
    claim = SPACE.session(request, runtime)
    assert claim is not None
    lists = await _lists(BackofficeClient(runtime.settings), who.academie)
    return templates.TemplateResponse(request, "backoffice.html", {
        **lists, "who": who, "csrf": SPACE.csrf(runtime, claim), "unavailable": UNAVAILABLE,
        "done": DONE.get(request.query_params.get("ok", "")), "new_key": lambda: uuid.uuid4().hex,
        "network": _network_of(state, who.academie),
    })


def _network_of(state: Any, academie: str) -> list[CoverageLine]:
    """The académie's coverage lines (its total first, then each département) from the in-memory read model."""
    figures = network_coverage(state.model, date.today())
    wanted = academie.lower()
    return ([a for a in figures.academies if a.academie.lower() == wanted]
            + [d for d in figures.departements if d.academie.lower() == wanted])


async def _request_page(request: Request, runtime: ServiceRuntime, state_index: Any, who: Referent, request_id: str,
                        error: str | None = None, status: int = 200, form: dict | None = None) -> HTMLResponse:
    client = BackofficeClient(runtime.settings)
    lists = await _lists(client, who.academie)
    item = lists["handled"].get(request_id)
    gave_up = next((u for u in lists["unanswered"] or [] if u["request_id"] == request_id), None)
    if item is None and gave_up is None:
        return SPACE.error(request, "Demande inconnue dans votre académie (ou déjà sortie des listes).", "absent", 404)
    form = form or {}
    query = str(form.get("q", request.query_params.get("q", "")))[:100].strip()
    asked_job = ((item or {}).get("jobs") or [""])[0]  # the search starts from the job the company asked for
    metier = str(form.get("metier", request.query_params.get("metier", asked_job)))[:100].strip()
    found, search_error = [], None
    try:
        found = search_lycees(state_index, load_communes(), text=query or None, job=metier or None,
                              academie=who.academie, per_page=20).results
    except CatalogError as exc:
        search_error = str(exc)
    claim = SPACE.session(request, runtime)
    assert claim is not None
    return templates.TemplateResponse(request, "backoffice_request.html", {
        "who": who, "item": item, "gave_up": gave_up, "request_id": request_id, "version": (item or {}).get("version", 0),
        "found": found, "q": query, "metier": metier, "search_error": search_error, "error": error,
        "csrf": SPACE.csrf(runtime, claim), "new_key": lambda: uuid.uuid4().hex,
    }, status_code=status)


@router.get("/demandes/{request_id}", response_class=HTMLResponse)
async def request_page(request_id: uuid.UUID, request: Request, runtime: Runtime, state: State) -> Response:
    who = await _who(request, runtime)
    if who is None:
        return RedirectResponse("/referents", status_code=303)
    return await _request_page(request, runtime, state.index, who, str(request_id))


ACTIONS = {"attribuer": "assign", "rerouter": "reroute", "clore": "close"}


@router.post("/demandes/{request_id}/{verb}", response_class=HTMLResponse)
async def act(request_id: uuid.UUID, verb: str, request: Request, runtime: Runtime, state: State) -> Response:
    claim, form, _ = await SPACE.checked_form(request, runtime)
    who = await _who(request, runtime) if claim else None
    if claim is None or who is None:
        return SPACE.expired_page(request)
    if verb not in (*ACTIONS, "ecrire"):
        return SPACE.error(request, "Action inconnue.", "absent", 404)
    client, key = BackofficeClient(runtime.settings), str(form.get("cle", ""))[:80] or uuid.uuid4().hex
    actor = {"actor": who.email, "actor_name": who.name if not who.generic else None, "academie": who.academie}
    try:
        if verb == "ecrire":
            await client.write(str(request_id), key, {**actor, "text": str(form.get("message", ""))[:5000]})
        else:
            version = str(form.get("version", "0"))
            await client.act(str(request_id), key, {
                **actor, "action": ACTIONS[verb], "expected_version": int(version) if version.isascii() and version.isdigit() else 0,
                "uais": [str(u) for u in form.getlist("uai")][:10],
                "jobs": [j for j in [str(form.get("metier_corrige", "")).strip()[:100]] if j],
                "postal_code": str(form.get("code_postal", "")).strip()[:10] or None,
                "reason": str(form.get("raison", ""))[:1000],
            })
    except Refused as exc:
        return await _request_page(request, runtime, state.index, who, str(request_id), exc.message,
                                   409 if exc.status == 409 else 422 if exc.status == 422 else exc.status,
                                   {k: v for k, v in form.items() if isinstance(v, str)})
    except Unavailable:
        return await _request_page(request, runtime, state.index, who, str(request_id), UNAVAILABLE, 503)
    return RedirectResponse(f"/referents/tableau?ok={verb}", status_code=303)


@router.post("/retenues/{inbound_id}", response_class=HTMLResponse)
async def settle(inbound_id: str, request: Request, runtime: Runtime) -> Response:
    claim, form, _ = await SPACE.checked_form(request, runtime)
    who = await _who(request, runtime) if claim else None
    if claim is None or who is None:
        return SPACE.expired_page(request)
    verb = "transmettre" if form.get("decision") == "transmettre" else "ecarter"
    key = str(form.get("cle", ""))[:80] or uuid.uuid4().hex
    try:
        await BackofficeClient(runtime.settings).settle(inbound_id[:32], key, {
            "actor": who.email, "actor_name": None if who.generic else who.name, "academie": who.academie,
            "release": verb == "transmettre"})
    except (Refused, Unavailable) as exc:
        message = exc.message if isinstance(exc, Refused) else UNAVAILABLE
        return SPACE.error(request, message, "refused", exc.status if isinstance(exc, Refused) else 503)
    return RedirectResponse(f"/referents/tableau?ok={verb}", status_code=303)
