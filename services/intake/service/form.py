"""The web form's fields (French names) mapped to and from the API body."""

from __future__ import annotations

import re
from collections.abc import Mapping

from shared.reference.geo import Commune, CommuneIndex, fold

RADIUS_CHOICES = (5, 10, 20, 30, 50, 100)
JOB_SLOTS = 3
LABEL_WITH_POSTAL = re.compile(r"^(?P<name>.+?)\s*\((?P<postal>\d{5})\)$")

# API field path (prefix) -> form field name
FORM_FIELDS = {
    "needs": "besoins", "jobs": "metiers", "siret": "siret", "naf": "naf", "location": "lieu",
    "radius_km": "rayon_km", "company_name": "entreprise", "contact.name": "nom", "contact.email": "email",
    "contact.phone": "telephone", "contact": "nom", "message": "message", "places": "places", "period": "periode",
    "preferred_uai": "uai",
}


def form_field(api_field: str) -> str:
    for prefix in sorted(FORM_FIELDS, key=len, reverse=True):
        if api_field == prefix or api_field.startswith(prefix + "."):
            return FORM_FIELDS[prefix]
    return "formulaire"


def resolve_place(text: str, insee: str, communes: CommuneIndex) -> dict | None:
    """The location part of the body from what the company typed (or picked in the autocomplete)."""
    text = (text or "").strip()
    if insee and insee in communes.by_insee:
        chosen = communes.by_insee[insee]
        if not text or fold(text).startswith(fold(chosen.name)):
            match = LABEL_WITH_POSTAL.match(text)
            return {"commune_insee": insee, **({"postal_code": match["postal"]} if match else {})}
    if not text:
        return None
    if re.fullmatch(r"\d{5}", text):
        return {"postal_code": text}
    match = LABEL_WITH_POSTAL.match(text)
    name = match["name"] if match else text
    candidates = communes.named(name)
    if match:
        candidates = [c for c in candidates if c.postal_code == match["postal"]] or candidates
        if not candidates:
            return {"postal_code": match["postal"]}
    if candidates:
        return {"commune_insee": candidates[0].insee, "postal_code": candidates[0].postal_code}
    if re.fullmatch(r"\d+", text):
        return {"postal_code": text}
    return {"commune_insee": "?"}  # unknown name: reported by the form as a commune error


def commune_of_text(communes: CommuneIndex, text: str, insee: str = "") -> Commune | None:
    """The commune the form's place field names (as the submission will read it), or None."""
    place = resolve_place(text, insee, communes)
    if not place or place.get("commune_insee") == "?":
        return None
    return communes.resolve(place.get("postal_code"), place.get("commune_insee"))


def _int_or_raw(value: str | None):
    value = (value or "").strip()
    if not value:
        return None
    # isascii: « ² » is a digit for isdigit() but not for int(); pydantic then refuses it in French
    return int(value) if value.isascii() and value.isdigit() and len(value) < 7 else value


def body_from_form(form: Mapping, getlist, communes: CommuneIndex) -> tuple[dict, dict[str, str]]:
    """(API body, form-only errors). ``getlist(name)`` returns every value of a repeated field."""
    errors: dict[str, str] = {}
    place = resolve_place(form.get("lieu", ""), form.get("commune_insee", ""), communes)
    if place is None:
        errors["lieu"] = "Indiquez une commune ou un code postal."
        place = {}
    elif place.get("commune_insee") == "?":
        errors["lieu"] = "Commune introuvable : indiquez son code postal (ex. 69007) ou choisissez-la dans la liste."
        place = {}
    if not form.get("consentement"):
        errors["consentement"] = "Vous devez accepter la politique de confidentialité pour envoyer votre demande."
    body = {
        "needs": [n for n in getlist("besoins") if n],
        "jobs": [j for j in getlist("metiers") if j and j.strip()],
        "naf": (form.get("naf") or "").strip() or None,
        "siret": (form.get("siret") or "").strip() or None,
        "location": place or {"postal_code": None},
        "radius_km": _int_or_raw(form.get("rayon_km")),
        "company_name": form.get("entreprise", ""),
        "contact": {
            "name": form.get("nom", ""), "email": (form.get("email") or "").strip(),
            "phone": (form.get("telephone") or "").strip() or None,
        },
        "message": form.get("message", ""),
        "places": _int_or_raw(form.get("places")),
        "period": (form.get("periode") or "").strip() or None,
        "preferred_uai": (form.get("uai") or "").strip().upper() or None,
    }
    return body, errors
