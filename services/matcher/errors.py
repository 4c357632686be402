"""French 422 responses for invalid bodies (FastAPI's defaults are English)."""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

MESSAGES = {
    "missing": "Champ obligatoire.",
    "extra_forbidden": "Champ inconnu.",
    "string_too_short": "Texte trop court.",
    "string_too_long": "Texte trop long.",
    "string_type": "Texte attendu.",
    "int_parsing": "Nombre entier attendu.",
    "int_type": "Nombre entier attendu.",
    "greater_than_equal": "Valeur trop petite.",
    "less_than_equal": "Valeur trop grande.",
    "list_type": "Liste attendue.",
    "too_short": "Liste trop courte.",
    "too_long": "Liste trop longue.",
    "literal_error": "Valeur non reconnue.",
    "model_attributes_type": "Objet JSON attendu.",
    "dict_type": "Objet JSON attendu.",
    "json_invalid": "JSON invalide.",
}


def french_message(error: dict) -> str:
    if error.get("type") == "value_error":
        return str(error.get("msg", "")).removeprefix("Value error, ")
    if error.get("type") == "literal_error":
        expected = (error.get("ctx") or {}).get("expected", "")
        return f"Valeur non reconnue (attendu : {expected})." if expected else MESSAGES["literal_error"]
    return MESSAGES.get(str(error.get("type")), "Valeur invalide.")


async def validation_error_handler(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {"champ": ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "corps", "message": french_message(e)}
        for e in exc.errors()
    ]
    return JSONResponse({"detail": "Données invalides.", "erreurs": errors}, status_code=422)
