"""Deep validation of a company request, with French messages attached to each field.

The shared ``CompanyRequestIn`` model checks the shape; here intake checks what needs data
or rules: SIRET (Luhn), NAF form, email syntax and domain, phone, known postal code/commune,
links in the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import ValidationError

from services.intake.service.siret import siret_is_valid
from shared.contracts.email_address import check_email
from shared.contracts.request_schema import CompanyRequestIn
from shared.platform.errors import FieldError, translate_errors
from shared.reference.geo import Commune, CommuneIndex

NAF_RE = re.compile(r"^(\d{2})\.?(\d{2})([A-Z])$")
PHONE_RE = re.compile(r"^\+?\d{8,15}$")
LINK_RE = re.compile(r"(https?://|www\.)", re.I)


class InvalidRequest(Exception):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


def parse_request(data: object) -> CompanyRequestIn:
    """Shape validation of raw data (form or JSON) into the shared model; raises InvalidRequest."""
    try:
        return CompanyRequestIn.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest(translate_errors(exc.errors(include_url=False))) from None


# ------------------------------------------------------------- deep checks
@dataclass(frozen=True)
class Qualified:
    """A request that passed every check, with normalised identifiers and its resolved commune."""

    body: CompanyRequestIn
    email: str
    siret: str | None
    naf: str | None
    phone: str | None
    commune: Commune
    academie: str | None




def _deep_checks(
    *, siret: object, naf: object, email: object, phone: object, postal: object, insee: object, message: object,
    communes: CommuneIndex, max_links: int,
) -> tuple[list[FieldError], dict]:
    """Rule checks on the raw values that are strings (others were reported by the shape check)."""
    errors: list[FieldError] = []
    out: dict = {"siret": None, "naf": None, "email": None, "phone": None, "commune": None}

    if isinstance(siret, str) and siret.strip():
        raw = re.sub(r"[\s.]", "", siret)
        if not (raw.isascii() and raw.isdigit()) or len(raw) != 14:
            errors.append(FieldError("siret", "Le SIRET doit comporter 14 chiffres."))
        elif not siret_is_valid(raw):
            errors.append(FieldError("siret", "Ce SIRET n'est pas valide (clé de contrôle incorrecte) : vérifiez-le."))
        else:
            out["siret"] = raw

    if isinstance(naf, str) and naf.strip():
        match = NAF_RE.match(naf.strip().upper())
        if not match:
            errors.append(FieldError("naf", "Le code NAF doit avoir la forme 10.71C (4 chiffres et une lettre)."))
        else:
            out["naf"] = f"{match.group(1)}.{match.group(2)}{match.group(3)}"

    if isinstance(email, str) and email.strip():
        out["email"], problem = check_email(email.strip())
        if problem:
            errors.append(FieldError("contact.email", problem))

    if isinstance(phone, str) and phone.strip():
        compact = re.sub(r"[\s.\-()]", "", phone)
        if not PHONE_RE.match(compact):
            errors.append(FieldError("contact.phone", "Le numéro de téléphone n'est pas valide (ex. 04 72 00 00 00)."))
        else:
            out["phone"] = phone.strip()

    postal = postal.strip() if isinstance(postal, str) else None
    if isinstance(insee, str) and insee.strip():
        insee = insee.strip()
        if insee not in communes.by_insee:
            errors.append(FieldError("location.commune_insee", f"Commune inconnue (code INSEE {insee[:10]})."))
            postal = None
        else:
            out["commune"] = communes.resolve(postal, insee)
            if postal and insee not in {c.insee for c in communes.by_postal.get(postal, ())}:
                # Never store another commune than the one the partner named: the two must agree.
                commune = communes.by_insee[insee]
                errors.append(FieldError("location.postal_code", f"Le code postal {postal[:10]} ne correspond pas à la "
                                         f"commune {commune.name} (code postal {commune.postal_code})."))
                out["commune"] = None
    if out["commune"] is None and postal:
        if not (postal.isascii() and postal.isdigit() and len(postal) == 5):
            errors.append(FieldError("location.postal_code", "Le code postal doit comporter 5 chiffres (ex. 69007)."))
        else:
            out["commune"] = communes.resolve(postal, None)
            if out["commune"] is None:
                near = communes.nearest_postal_codes(postal)
                hint = f" Vouliez-vous dire {', '.join(near)} ?" if near else ""
                errors.append(FieldError("location.postal_code", f"Code postal inconnu : {postal}.{hint}"))

    if isinstance(message, str) and len(LINK_RE.findall(message)) > max_links:
        errors.append(FieldError("message", f"Le message ne doit pas contenir plus de {max_links} liens."))
    return errors, out


def check_company_fields(*, siret: object, naf: object, email: object, postal: object, insee: object,
                         communes: CommuneIndex) -> tuple[list[FieldError], dict]:
    """The rules a request's company fields pass, for another way in (a campaign's file): the errors
    (fields named as in the API: ``siret``, ``naf``, ``contact.email``, ``location.postal_code``,
    ``location.commune_insee``) and the normalised ``siret``, ``naf``, ``email`` and ``commune``."""
    return _deep_checks(siret=siret, naf=naf, email=email, phone=None, postal=postal, insee=insee, message=None,
                        communes=communes, max_links=0)


def _get(data: object, *path: str) -> object:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def raw_deep_errors(data: object, communes: CommuneIndex, max_links: int = 3) -> list[FieldError]:
    """The rule errors of a body that failed the shape check, so the company sees every mistake at once."""
    errors, _ = _deep_checks(
        siret=_get(data, "siret"), naf=_get(data, "naf"), email=_get(data, "contact", "email"),
        phone=_get(data, "contact", "phone"), postal=_get(data, "location", "postal_code"),
        insee=_get(data, "location", "commune_insee"), message=_get(data, "message"),
        communes=communes, max_links=max_links,
    )
    return errors


def qualify(body: CompanyRequestIn, communes: CommuneIndex, max_links: int = 3) -> Qualified:
    """Every deep check at once, so the company sees all its mistakes together; raises InvalidRequest."""
    errors, out = _deep_checks(
        siret=body.siret, naf=body.naf, email=body.contact.email, phone=body.contact.phone,
        postal=body.location.postal_code, insee=body.location.commune_insee, message=body.message,
        communes=communes, max_links=max_links,
    )
    if not body.contact.name.strip():
        errors.append(FieldError("contact.name", "Ce champ est obligatoire."))
    if not body.company_name.strip():
        errors.append(FieldError("company_name", "Ce champ est obligatoire."))
    fields = {e.field for e in errors}
    if out["commune"] is None and not fields & {"location.postal_code", "location.commune_insee"}:
        errors.append(FieldError("location", "Indiquez un code postal ou une commune."))
    if out["email"] is None and "contact.email" not in fields:
        errors.append(FieldError("contact.email", "Ce champ est obligatoire."))
    if errors:
        raise InvalidRequest(errors)
    commune = out["commune"]
    territoire = communes.territoire(commune.departement)
    return Qualified(body=body, email=out["email"], siret=out["siret"], naf=out["naf"], phone=out["phone"],
                     commune=commune, academie=territoire.academie if territoire else None)
