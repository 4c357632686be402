"""French error responses: validation errors (422) and query problems, never a 500 for bad input."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

MESSAGES = {
    "missing": "champ obligatoire",
    "int_parsing": "doit être un nombre entier",
    "float_parsing": "doit être un nombre",
    "int_from_float": "doit être un nombre entier",
    "greater_than_equal": "doit être supérieur ou égal à {ge}",
    "greater_than": "doit être supérieur à {gt}",
    "less_than_equal": "doit être inférieur ou égal à {le}",
    "less_than": "doit être inférieur à {lt}",
    "string_too_long": "texte trop long ({max_length} caractères au plus)",
    "string_too_short": "texte trop court ({min_length} caractères au moins)",
    "literal_error": "valeur non autorisée (valeurs possibles : {expected})",
    "enum": "valeur non autorisée (valeurs possibles : {expected})",
    "string_pattern_mismatch": "format invalide",
    "finite_number": "doit être un nombre fini",
}


def french_errors(errors: list[dict]) -> list[dict]:
    out = []
    for err in errors:
        ctx = {k: str(v) for k, v in (err.get("ctx") or {}).items()}
        template = MESSAGES.get(err.get("type", ""), "valeur invalide")
        try:
            message = template.format(**ctx)
        except (KeyError, IndexError):
            message = template.split(" (")[0]
        loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "body", "path")]
        out.append({"champ": ".".join(loc) or "requête", "message": message})
    return out


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": french_errors(list(exc.errors())), "message": "Requête invalide."}, status_code=422)
