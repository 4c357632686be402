"""How the partner API keys appear in intake's OpenAPI document (French: partners read it)."""

from __future__ import annotations

from fastapi import FastAPI

SECURITY_SCHEMES = {
    "cleApiPartenaire": {
        "type": "apiKey", "in": "header", "name": "X-API-Key",
        "description": (
            "Clé d'API d'un partenaire, créée par l'équipe MonLycéePro (`monlyceepro partner key create`) et "
            "affichée une seule fois : `mlp_` + 8 caractères (son préfixe, qui l'identifie) + `_` + 43 caractères. "
            "Portées : `submit` (déposer des demandes, attribuées au partenaire) et `status` (lire le suivi de ses "
            "propres demandes et son bilan). Limite d'appels par clé ; 401 si la clé est absente, invalide ou "
            "révoquée, 403 si elle n'a pas la portée demandée, 429 au-delà de la limite."),
    },
    "jetonPartenaire": {
        "type": "http", "scheme": "bearer",
        "description": "La même clé, envoyée en `Authorization: Bearer mlp_…` (au choix, plutôt que `X-API-Key`).",
    },
}
# A partner's key, or nothing (the direct API): an empty requirement makes it optional.
PARTNER_KEY_OPTIONAL: list[dict] = [{"cleApiPartenaire": []}, {"jetonPartenaire": []}, {}]
PARTNER_KEY_REQUIRED: list[dict] = [{"cleApiPartenaire": []}, {"jetonPartenaire": []}]


def document_partner_keys(app: FastAPI) -> None:
    """Add the security schemes to the generated document (FastAPI adds only those of its own
    security dependencies, which would cost a dependency per request on the direct API)."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        schema.setdefault("components", {}).setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
        app.openapi_schema = schema
        return schema

    setattr(app, "openapi", openapi)  # noqa: B010 - a plain assignment to a method is refused by type checkers
