"""Validation errors in French, with the field they belong to. Pure functions: no web framework here, so
domain code (a service's ``service/`` package) can raise and translate them too."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


# ------------------------------------------------------------- pydantic -> French
def french_message(err: Mapping[str, Any]) -> str:
    """One pydantic error in French, for a company or a developer reading the API answer."""
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return "Ce champ est obligatoire."
    if kind == "string_too_short":
        return "Ce champ est obligatoire." if ctx.get("min_length", 1) <= 1 else f"Au moins {ctx['min_length']} caractères."
    if kind == "string_too_long":
        return f"Ce texte ne doit pas dépasser {ctx.get('max_length')} caractères."
    if kind == "too_short":
        return "Choisissez au moins un élément."
    if kind == "too_long":
        return f"Pas plus de {ctx.get('max_length')} éléments."
    if kind in {"literal_error", "enum"}:
        expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", " ou ")
        return f"Valeur non reconnue. Valeurs possibles : {expected}." if expected else "Valeur non reconnue."
    if kind in {"int_parsing", "int_type", "int_from_float"}:
        return "Indiquez un nombre entier."
    if kind in {"float_parsing", "float_type", "finite_number"}:
        return "Indiquez un nombre."
    if kind in {"bool_parsing", "bool_type"}:
        return "Indiquez vrai ou faux (true ou false)."
    if kind == "greater_than_equal":
        return f"La valeur doit être au moins {ctx.get('ge')}."
    if kind == "greater_than":
        return f"La valeur doit être supérieure à {ctx.get('gt')}."
    if kind == "less_than_equal":
        return f"La valeur ne doit pas dépasser {ctx.get('le')}."
    if kind == "less_than":
        return f"La valeur doit être inférieure à {ctx.get('lt')}."
    if kind == "string_pattern_mismatch":
        return "Format non reconnu."
    if kind == "extra_forbidden":
        return "Champ inconnu : retirez-le."
    if kind == "json_invalid":
        return "Le corps de la requête n'est pas un JSON valide."
    if kind in {"model_type", "model_attributes_type", "dict_type"}:
        return "Un objet JSON est attendu."
    if kind in {"list_type", "tuple_type", "set_type"}:
        return "Une liste est attendue."
    if kind in {"string_type", "string_unicode"}:
        return "Un texte est attendu."
    if kind == "value_error":
        message = str(ctx.get("error") or err.get("msg", ""))
        return message.removeprefix("Value error, ") or "Valeur invalide."
    return "Valeur invalide."


def field_path(loc: Iterable) -> str:
    """``("body", "location", "postal_code")`` → ``location.postal_code``; where the value came from is implied."""
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "corps"


def translate_errors(errors: Iterable[Mapping[str, Any]]) -> list[FieldError]:
    return [FieldError(field_path(err.get("loc", ())), french_message(err)) for err in errors]
