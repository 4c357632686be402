"""The HTTP edge every service shares: one French error body, one admin guard, typed dependencies.

Every error a service answers has the same body, whatever the service and the status:

    {"detail": "<phrase en français>", "errors": [{"field": "location.postal_code", "message": "..."}]}

``errors`` lists field problems (422) and is empty otherwise. A body that is not JSON is a 400, not
a 422 on a field "0". FastAPI's English defaults (« Not Found », « Field required ») never reach a user.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.platform.errors import FieldError, translate_errors
from shared.platform.service import ServiceRuntime

INVALID_FIELDS = "La requête contient des erreurs : corrigez les champs indiqués."
NOT_JSON = "Le corps de la requête est illisible : du JSON encodé en UTF-8 est attendu."
HTTP_MESSAGES = {
    400: NOT_JSON,
    401: "Authentification requise.",
    403: "Accès refusé.",
    404: "Page ou ressource introuvable.",
    405: "Méthode non autorisée.",
    409: "Conflit avec l'état actuel de la ressource.",
    413: "Requête trop volumineuse.",
    415: "Type de contenu non pris en charge.",
    429: "Trop de demandes : réessayez plus tard.",
    503: "Service momentanément indisponible : réessayez dans un instant.",
}


class FieldErrorOut(BaseModel):
    field: str = Field(description="Chemin du champ, ex. contact.email")
    message: str = Field(description="Message en français")


class ErrorOut(BaseModel):
    """The error body of every MonLycéePro service."""

    detail: str = Field(description="Ce qui ne va pas, en français")
    errors: list[FieldErrorOut] = Field(default=[], description="Les champs à corriger (erreurs de validation)")


def error_response(status: int, detail: str, errors: Iterable[FieldError] = (),
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"detail": detail, "errors": [{"field": e.field, "message": e.message} for e in errors]}
    return JSONResponse(body, status_code=status, headers=headers)


def invalid_fields(errors: Iterable[FieldError]) -> JSONResponse:
    return error_response(422, INVALID_FIELDS, errors)


def http_error_response(exc: StarletteHTTPException) -> JSONResponse:
    """The common error body of an HTTP error, its detail in French."""
    return error_response(exc.status_code, french_detail(exc.status_code, exc.detail),
                          headers=getattr(exc, "headers", None))


class InvalidFields(Exception):  # noqa: N818 - named after what the caller sees: invalid fields
    """Raised by a route for field problems found past the shape check; answered as a 422 with the common body."""

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in self.errors))


# More field errors for a body that failed validation (intake adds its rule checks to the shape errors).
ExtraErrors = Callable[[Request, RequestValidationError, list[FieldError]], list[FieldError]]


def install_error_handlers(app: FastAPI, extra_errors: ExtraErrors | None = None) -> None:
    """French error bodies for validation errors and every HTTP error, including unknown routes.

    Starlette types a handler as taking any exception but calls it only for its own class (or a
    subclass): each handler narrows to the class it is registered for."""

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        raw = list(exc.errors())
        if any(err.get("type") == "json_invalid" for err in raw):
            return error_response(400, NOT_JSON)
        errors = translate_errors(raw)
        if extra_errors is not None:
            errors += extra_errors(request, exc, errors)
        return invalid_fields(errors)

    async def on_http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return http_error_response(exc)

    async def on_invalid_fields(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, InvalidFields)
        return invalid_fields(exc.errors)

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(InvalidFields, on_invalid_fields)
    _document_the_common_body(app)
    app.add_exception_handler(StarletteHTTPException, on_http_error)


# What Starlette and FastAPI themselves raise, in English, besides the reason phrase of the status.
FRAMEWORK_DETAILS = frozenset({"There was an error parsing the body"})


def _document_the_common_body(app: FastAPI) -> None:
    """FastAPI documents every 422 as its own English ``HTTPValidationError``: the contract says ErrorOut instead."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        schemas = schema.get("components", {}).get("schemas", {})
        if "HTTPValidationError" in schemas:
            schemas.pop("HTTPValidationError")
            schemas.pop("ValidationError", None)
            schemas.update(ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")["$defs"])
            schemas["ErrorOut"] = {k: v for k, v in ErrorOut.model_json_schema(
                ref_template="#/components/schemas/{model}").items() if k != "$defs"}
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    answer = operation.get("responses", {}).get("422") if isinstance(operation, dict) else None
                    if answer:
                        answer["description"] = "Champs invalides (messages en français par champ)"
                        answer["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
        app.openapi_schema = schema
        return schema

    setattr(app, "openapi", openapi)  # noqa: B010 - a plain assignment to a method is refused by type checkers


def french_detail(status: int, detail: object) -> str:
    """A service's own French detail is kept; the framework's English ones are replaced."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    if isinstance(detail, str) and detail and detail != phrase and detail not in FRAMEWORK_DETAILS:
        return detail
    return HTTP_MESSAGES.get(status, "Erreur.")


# ------------------------------------------------------------- typed dependencies
# async although it never awaits: FastAPI runs a plain def dependency on its thread pool.
async def get_runtime(request: Request) -> ServiceRuntime:
    return request.app.state.runtime


Runtime = Annotated[ServiceRuntime, Depends(get_runtime)]

ADMIN_DISABLED = "L'API d'administration est désactivée sur ce service (MLP_ADMIN_TOKEN absent)."
ADMIN_TOKEN_NEEDED = "Jeton d'administration manquant ou invalide (en-tête Authorization: Bearer …)."


async def require_admin(runtime: Runtime, authorization: Annotated[str | None, Header()] = None) -> None:
    """401: no token or a wrong one (the caller may retry with the right one); 403: no admin API here."""
    expected = runtime.settings.admin_token
    if not expected:
        raise StarletteHTTPException(403, ADMIN_DISABLED)
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise StarletteHTTPException(401, ADMIN_TOKEN_NEEDED, headers={"WWW-Authenticate": "Bearer"})


Admin = Annotated[None, Depends(require_admin)]

ADMIN_RESPONSES: dict[int | str, dict] = {
    401: {"model": ErrorOut, "description": "Jeton d'administration manquant ou invalide"},
    403: {"model": ErrorOut, "description": "API d'administration désactivée (MLP_ADMIN_TOKEN absent)"},
}
VALIDATION_RESPONSES: dict[int | str, dict] = {
    400: {"model": ErrorOut, "description": "Corps illisible (pas du JSON)"},
    422: {"model": ErrorOut, "description": "Champs invalides (messages en français par champ)"},
}
