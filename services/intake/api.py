"""The JSON API (``/api/v1``): partners post requests; companies follow them; the public reads impact."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlmodel import Session

from services.intake import metrics, repository
from services.intake.deps import NOT_FOUND, Ctx, IntakeContext, unknown_jobs
from services.intake.partners.auth import authenticate, presented_key
from services.intake.partners.keys import partner_idempotency_key
from services.intake.partners.openapi import PARTNER_KEY_OPTIONAL
from services.intake.partners.repository import KeyOwner
from services.intake.schemas import (
    ImpactOut,
    ImpactV2Out,
    PeriodOut,
    PilotOut,
    StatusOut,
    SubmitOut,
    Suggestion,
    UnderstoodOut,
)
from services.intake.service import impact as impact_service
from services.intake.service.form import commune_of_text
from services.intake.service.submission import IdempotencyConflict, RateLimited, body_hash
from services.intake.service.timeline import status_view
from services.intake.service.validation import InvalidRequest, raw_deep_errors
from shared.contracts.events import RequestSource
from shared.contracts.request_schema import CompanyRequestIn
from shared.platform.errors import FieldError
from shared.platform.http import ErrorOut, error_response, invalid_fields
from shared.platform.logging import get_logger
from shared.reference.periods import Period, classes_during, fit_sentence, miss_sentence, parse_period
from shared.reference.pilot import academie_of

router = APIRouter(prefix="/api/v1")
log = get_logger(__name__)

SUBMIT_MESSAGE = SubmitOut.model_fields["message"].default
OUTSIDE_PILOT_MESSAGE = "Demande reçue. {notice}"
IP_LIMITED = "Trop de demandes envoyées depuis votre connexion. Patientez quelques minutes avant de réessayer."


def rule_errors(request: Request, exc, shape_errors: list[FieldError]) -> list[FieldError]:
    """Rule errors too for a request body that failed the shape check, so a partner sees every mistake at once."""
    if request.method != "POST" or request.url.path != "/api/v1/requests":
        return []
    metrics.rejected("api", "validation")
    ctx: IntakeContext = request.app.state.intake
    shape = {e.field for e in shape_errors}
    return [e for e in raw_deep_errors(exc.body, ctx.communes, ctx.settings.max_links_in_message) if e.field not in shape]


# async: FastAPI runs a plain def dependency on its thread pool. It reads the context itself rather
# than through a sub-dependency: each one FastAPI solves per request costs. Runs before the body is
# validated, so a refused key is a 401 even for a faulty body.
async def guard_submission(request: Request) -> None:
    """A partner's key (scope ``submit``, its own rate limit) when one is sent; else the per-IP limit."""
    if presented_key(request) is not None:
        await authenticate(request, "submit")
        return
    ctx: IntakeContext = request.app.state.intake
    if not ctx.ip_limiter.hit(ctx.client_ip(request)):
        metrics.rejected("api" if request.url.path.startswith("/api/") else "form", "rate_limited")
        raise HTTPException(429, IP_LIMITED, headers={"Retry-After": str(ctx.settings.rate_limit_ip_window_s)})


# The Idempotency-Key header is read by the route itself, not declared as a FastAPI parameter: solving a
# declared header (aliases, header lookup, a pydantic validation) was a tenth of the route's CPU. Documented
# as FastAPI documented it, and refused with the same 422 when too long.
IDEMPOTENCY_KEY_MAX = 255
IDEMPOTENCY_KEY_PARAMETER = {
    "name": "idempotency-key", "in": "header", "required": False, "description": "Clé d'idempotence",
    "schema": {"anyOf": [{"type": "string", "maxLength": IDEMPOTENCY_KEY_MAX}, {"type": "null"}],
               "description": "Clé d'idempotence", "title": "Idempotency-Key"},
}


def idempotency_key_of(request: Request, payload: CompanyRequestIn) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is not None and len(key) > IDEMPOTENCY_KEY_MAX:
        raise RequestValidationError([{
            "type": "string_too_long", "loc": ("header", "idempotency-key"),
            "msg": f"String should have at most {IDEMPOTENCY_KEY_MAX} characters", "input": key,
            "ctx": {"max_length": IDEMPOTENCY_KEY_MAX},
        }], body=payload.model_dump(mode="json"))
    return key


async def create_request(payload: CompanyRequestIn, request: Request):
    ctx: IntakeContext = request.app.state.intake
    idempotency_key = idempotency_key_of(request, payload)
    partner: KeyOwner | None = getattr(request.state, "partner_key", None)
    source = RequestSource(kind="partner_api", partner=partner.partner) if partner else None
    if idempotency_key and partner:  # a partner's keys are its own: never another caller's first answer
        idempotency_key = partner_idempotency_key(partner.partner, idempotency_key)
    idempotency = (idempotency_key, body_hash(payload.model_dump(mode="json"))) if idempotency_key else None
    understood = await ctx.understood(payload.jobs, payload.naf)
    try:
        if unknown := unknown_jobs(understood):
            raise InvalidRequest(unknown)
        # The validated model itself: dumping it and validating the dump again cost a second parse.
        submitted = await ctx.accept(payload, "api", request.state.correlation_id, idempotency, source)
    except InvalidRequest as exc:
        metrics.rejected("api", "validation")
        return invalid_fields(exc.errors)
    except RateLimited as exc:
        metrics.rejected("api", "rate_limited")
        return error_response(429, exc.message, headers={"Retry-After": str(ctx.settings.rate_limit_email_window_s)})
    except IdempotencyConflict:
        metrics.rejected("api", "idempotency_conflict")
        return error_response(409, "Cette clé d'idempotence a déjà servi pour une demande différente.")
    # SubmitOut's fields, in its order, without building the model and dumping it again.
    return JSONResponse({
        "request_id": submitted.request_id, "status_url": ctx.status_url(submitted.token),
        "status_api_url": f"{ctx.base_url}/api/v1/suivi/{submitted.token}",
        "message": OUTSIDE_PILOT_MESSAGE.format(notice=submitted.pilot_notice) if submitted.pilot_notice
        else SUBMIT_MESSAGE,
        "understood": [u.as_json() for u in understood or []], "understanding_checked": understood is not None,
        "in_pilot": submitted.in_pilot, "pilot_notice": submitted.pilot_notice,
    }, status_code=202)


def is_json_media(content_type: str) -> bool:
    """``application/json`` or a ``+json`` type, whatever its parameters (``; charset=utf-8``)."""
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def valid_json_payload(request: Request) -> CompanyRequestIn | None:
    """The body parsed and validated in one pass by pydantic's own JSON parser, when it is a JSON body
    that passes; None for anything else. FastAPI's handler parses with ``json.loads``, then validates
    the dict, after solving the route's parameters: a sixth of the route's CPU."""
    if not is_json_media(request.headers.get("content-type", "")):
        return None
    body = await request.body()  # Starlette keeps it: FastAPI's handler reads it again for free
    try:
        return CompanyRequestIn.model_validate_json(body) if body else None
    except ValueError:  # ValidationError, and a body that is not UTF-8
        return None


class _GuardedRoute(APIRoute):
    """``guard_submission`` before FastAPI's handler (and so before the body is validated: a refused key
    is a 401 even for a faulty body), called directly rather than as a declared dependency: solving a
    sub-dependency on every request cost about a tenth of the route's CPU. Nothing changes in the
    OpenAPI document (the guard declared no parameter).

    A valid JSON body goes straight to the endpoint (``valid_json_payload``). Anything else, a faulty
    body included, takes FastAPI's own handler, so errors keep the shape and the French messages the
    exception handlers give them: that path validates twice, only for a request that is refused."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            await guard_submission(request)
            payload = await valid_json_payload(request)
            if payload is not None:
                return await create_request(payload, request)
            return await handler(request)

        return guarded


router.add_api_route(
    "/requests", create_request, methods=["POST"], status_code=202, response_model=SubmitOut, tags=["demandes"],
    summary="Déposer la demande d'une entreprise",
    description=(
        "Valide la demande (SIRET, adresse électronique, code postal…), l'enregistre avec son événement "
        "`request.submitted` dans la même transaction, et renvoie son lien de suivi privé. "
        "Un en-tête `Idempotency-Key` rend un nouvel envoi identique sans effet : il renvoie le premier résultat.\n\n"
        "Sans clé d'API, la demande est directe. Un partenaire envoie sa clé (`X-API-Key`, portée `submit`) : "
        "la demande lui est attribuée, et la limite est celle de sa clé et non celle de l'adresse IP."
    ),
    openapi_extra={"security": PARTNER_KEY_OPTIONAL, "parameters": [IDEMPOTENCY_KEY_PARAMETER]},
    responses={
        401: {"model": ErrorOut, "description": "Clé d'API invalide, révoquée, ou partenaire désactivé"},
        403: {"model": ErrorOut, "description": "Clé d'API sans la portée `submit`"},
        409: {"model": ErrorOut, "description": "Clé d'idempotence déjà utilisée pour un autre contenu"},
        413: {"model": ErrorOut, "description": "Corps trop volumineux"},
        422: {"model": ErrorOut, "description": "Champs invalides (messages en français par champ)"},
        429: {"model": ErrorOut, "description": "Trop de demandes"},
    },
    route_class_override=_GuardedRoute,
)


@router.get("/pilote", response_model=PilotOut, tags=["demandes"], summary="La commune est-elle dans les académies pilotes ?",
            description=(
                "Le formulaire l'appelle dès que la commune est connue : hors des académies pilotes, l'entreprise est "
                "prévenue avant d'envoyer sa demande (qui reste acceptée et transmise à l'académie ou à l'équipe "
                "nationale). `commune` : un code postal, un code INSEE, ou « Nom (code postal) »."))
async def pilot_for_commune(ctx: Ctx, commune: Annotated[str, Query(max_length=120)] = "",
                            insee: Annotated[str, Query(max_length=5, description="Code INSEE choisi dans la liste")]
                            = "") -> PilotOut:
    place = commune_of_text(ctx.communes, commune, insee)
    pilot = ctx.pilot.current
    academie = academie_of(ctx.communes, place.postal_code, place.insee) if place else None
    notice = pilot.notice(academie) if place else None
    return PilotOut(commune=place.label if place else None, academie=academie, in_pilot=notice is None,
                    notice=notice, pilot_academies=list(pilot.academies))


def _status(ctx: IntakeContext, token: str, request_id: str | None = None) -> dict | None:
    with Session(ctx.runtime.engine) as session:
        req = repository.get_by_token(session, token)
        if req is None or (request_id is not None and req.id != request_id):
            return None
        return status_view(session, req, ctx.status_url(token))



@router.get("/suivi/{token}", response_model=StatusOut, tags=["suivi"], summary="Suivi d'une demande (JSON)",
            responses={404: {"model": ErrorOut}})
async def status_json(token: str, ctx: Ctx):
    view = await ctx.runtime.run_db(_status, ctx, token[:100])
    if view is None:
        return error_response(404, NOT_FOUND)
    return view


@router.get("/requests/{request_id}", response_model=StatusOut, tags=["suivi"],
            summary="Suivi d'une demande par son identifiant et son jeton", responses={404: {"model": ErrorOut}})
async def status_by_id(request_id: str, ctx: Ctx, token: Annotated[str, Query(max_length=100)]):
    view = await ctx.runtime.run_db(_status, ctx, token, request_id[:40])
    if view is None:
        return error_response(404, NOT_FOUND)
    return view




@router.delete("/suivi/{token}", response_model=StatusOut, tags=["suivi"],
               summary="Supprimer les données personnelles d'une demande", responses={404: {"model": ErrorOut}})
async def erase_json(token: str, request: Request, ctx: Ctx):
    view = await ctx.runtime.run_db(ctx.erase_by_token, token[:100], request.state.correlation_id)
    ctx.runtime.relay.wake()
    if view is None:
        return error_response(404, NOT_FOUND)
    return view




PeriodParam = Annotated[str, Query(max_length=10, description="30j, 90j, 12m ou tout")]
UNKNOWN_PERIOD = FieldError("period", "Période inconnue : choisissez 30j, 90j, 12m ou tout.")


@router.get("/impact", response_model=ImpactOut, tags=["impact"], deprecated=True,
            summary="Chiffres publics d'impact (v1, remplacée par /api/v2/impact)",
            responses={422: {"model": ErrorOut}})
async def impact_json(ctx: Ctx, response: Response, period: PeriodParam = impact_service.DEFAULT_PERIOD):
    if period not in impact_service.PERIODS:
        return invalid_fields([UNKNOWN_PERIOD])
    response.headers["Deprecation"] = "true"
    response.headers["Link"] = f'</api/v2/impact?period={period}>; rel="successor-version"'
    return await ctx.runtime.run_db(ctx.impact, period)


router_v2 = APIRouter(prefix="/api/v2")


@router_v2.get("/impact", response_model=ImpactV2Out, tags=["impact"], responses={422: {"model": ErrorOut}},
               summary="Chiffres publics d'impact : interactions, actions conjointes, taux et délai de réponse")
async def impact_v2_json(ctx: Ctx, period: PeriodParam = impact_service.DEFAULT_PERIOD):
    if period not in impact_service.PERIODS:
        return invalid_fields([UNKNOWN_PERIOD])
    return await ctx.runtime.run_db(ctx.impact_v2, period)


# ------------------------------------------------------------- autocomplete (same-origin proxy)
def _suggestions(data: object) -> list[Suggestion]:
    items = data.get("results") or data.get("items") or [] if isinstance(data, dict) else data
    out: list[Suggestion] = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, str):
            out.append(Suggestion(label=item, value=item))
        elif isinstance(item, dict):
            label = item.get("label") or item.get("libelle") or item.get("title") or item.get("name")
            code = item.get("rome") or item.get("code_rome") or item.get("code") or item.get("insee")
            if label:
                out.append(Suggestion(label=str(label)[:200], value=str(label)[:200], code=str(code)[:10] if code else None))
    return out[:15]


async def _from_catalog(ctx: IntakeContext, path: str, q: str) -> list[Suggestion] | None:
    try:
        response = await ctx.http.get(f"{ctx.settings.catalog_url.rstrip('/')}{path}", params={"q": q},
                                      timeout=ctx.settings.catalog_timeout_s)
        response.raise_for_status()
        return _suggestions(response.json())
    except Exception:
        return None  # the catalog is down or answered garbage: the form still accepts free text


@router.get("/autocomplete/metiers", response_model=list[Suggestion], tags=["saisie"],
            summary="Métiers (intitulés et codes ROME), relayé depuis le catalogue")
async def autocomplete_jobs(ctx: Ctx, q: Annotated[str, Query(max_length=100)] = ""):
    if len(q.strip()) < 2:
        return []
    return await _from_catalog(ctx, "/api/v1/metiers", q.strip()) or []


@router.get("/autocomplete/comprendre", response_model=UnderstoodOut | None, tags=["saisie"],
            summary="Ce que le service comprend d'un métier saisi (« Nous avons compris… »), relayé depuis le catalogue")
async def understand_job(ctx: Ctx, q: Annotated[str, Query(max_length=120)] = "",
                         naf: Annotated[str | None, Query(max_length=10)] = None):
    if len(q.strip()) < 2:
        return None
    found = await ctx.understood([q], naf)
    return UnderstoodOut(**found[0].as_json()) if found else None


@router.get("/autocomplete/periode", response_model=PeriodOut | None, tags=["saisie"],
            summary="Ce que le service comprend de la période saisie, et si elle tombe pendant une PFMP du lycée choisi")
async def understand_period(ctx: Ctx, q: Annotated[str, Query(max_length=200)] = "",
                            uai: Annotated[str, Query(max_length=8)] = ""):
    if len(q.strip()) < 3:
        return None
    period = parse_period(q)
    if period is None:
        return PeriodOut(text=q, message="Période non reconnue : elle sera transmise telle quelle au lycée.")
    message = f"Nous avons compris : {period.french()}."
    fit: bool | None = None
    declared = await ctx.pfmp_periods(uai.strip().upper()) if uai.strip() else None
    periods = [(c, p) for c, code in declared or [] if (p := Period.from_code(code)) is not None]
    if periods:
        classes = classes_during(period, periods)
        fit = bool(classes)
        sentence = fit_sentence(period, classes) if classes else miss_sentence(period)
        message += " " + sentence[0].upper() + sentence[1:] + (" du lycée choisi." if classes else ".")
    return PeriodOut(text=q, understood=period.french(), message=message, pfmp_fit=fit)


@router.get("/autocomplete/communes", response_model=list[Suggestion], tags=["saisie"],
            summary="Communes et codes postaux")
async def autocomplete_communes(ctx: Ctx, q: Annotated[str, Query(max_length=100)] = ""):
    if len(q.strip()) < 2:
        return []
    local = [Suggestion(label=c.label, value=c.label, code=c.insee) for c in ctx.communes.suggest(q, limit=10)]
    return local
