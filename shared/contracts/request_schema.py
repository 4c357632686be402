"""The company request body, shared by intake's ``POST /api/v1/requests`` and the matcher's
``POST /api/v1/routing/preview`` ("takes the same JSON body"). Field names are a public
contract with partners: never rename them.

Intake owns the deep validation (SIRET Luhn, email domain, known postal code); this model
holds the shape and the checks both endpoints share. Error messages are in French.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.contracts.events import NeedType

NEED_LABELS: dict[str, str] = {
    "pfmp": "Accueillir des élèves en stage (PFMP)",
    "apprentissage": "Recruter un ou des apprentis",
    "recrutement": "Recruter un jeune diplômé",
    "intervention": "Intervenir en classe / présenter son métier",
    "visite": "Faire visiter l'entreprise",
    "jury": "Participer à un jury ou à un examen",
    "materiel": "Prêter ou donner du matériel",
    "soutien": "Soutenir le lycée (taxe d'apprentissage, mécénat)",
    "autre": "Autre",
}


# C0/C1 control characters (NUL, escape…) and the Unicode bidirectional controls (U+202E "right-to-left override"
# makes « gpj.exe » read « exe.jpg »): removed from every text a company sends, before anything stores or shows it.
# Line breaks and tabs stay in the free message only.
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROLS = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")
_CONTROLS_BUT_LINES = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI}]")


def neutralise(text: object, keep_lines: bool = False) -> object:
    """Invisible control characters out of a text (other values are left to the type check)."""
    if not isinstance(text, str):
        return text
    return (_CONTROLS_BUT_LINES if keep_lines else _CONTROLS).sub("", text)


def _no_bool(value: object) -> object:
    # JSON true would otherwise be read as the number 1.
    if isinstance(value, bool):
        raise ValueError("Indiquez un nombre entier.")
    return value


class LocationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    postal_code: str | None = Field(default=None, description="Code postal (5 chiffres)", examples=["69007"])
    commune_insee: str | None = Field(default=None, description="Code INSEE de la commune", examples=["69387"])

    @model_validator(mode="after")
    def _one_of(self) -> LocationIn:
        if not self.postal_code and not self.commune_insee:
            raise ValueError("Indiquez un code postal ou une commune.")
        return self


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120, description="Nom et prénom de la personne à contacter")
    email: str = Field(min_length=3, max_length=254, description="Adresse électronique")
    phone: str | None = Field(default=None, max_length=30, description="Téléphone (facultatif)")

    @field_validator("name", "email", "phone", mode="before")
    @classmethod
    def _visible_only(cls, value: object) -> object:
        return neutralise(value)


class CompanyRequestIn(BaseModel):
    """A company's request, as partners post it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    needs: list[NeedType] = Field(min_length=1, max_length=9, description="Besoins de l'entreprise")
    jobs: list[str] = Field(default_factory=list, max_length=10, description="Métiers (intitulés ou codes ROME)")
    naf: str | None = Field(default=None, max_length=7, description="Code NAF/APE, ex. 10.71C ou 1071C")
    siret: str | None = Field(default=None, max_length=20, description="SIRET (14 chiffres)")
    location: LocationIn
    radius_km: int | None = Field(default=None, ge=1, le=200, description="Distance d'accueil en km")
    company_name: str = Field(min_length=1, max_length=200)
    contact: ContactIn
    message: str = Field(default="", max_length=5000)
    places: int | None = Field(default=None, ge=1, le=500, description="Nombre de places")
    period: str | None = Field(default=None, max_length=200, description="Période souhaitée")
    preferred_uai: str | None = Field(default=None, max_length=8, description="Lycée choisi depuis sa fiche")

    @field_validator("naf", "siret", "company_name", "period", "preferred_uai", mode="before")
    @classmethod
    def _visible_only(cls, value: object) -> object:
        return neutralise(value)

    @field_validator("message", mode="before")
    @classmethod
    def _visible_message(cls, value: object) -> object:
        return neutralise(value, keep_lines=True)

    @field_validator("jobs", mode="before")
    @classmethod
    def _visible_jobs(cls, value: object) -> object:
        return [neutralise(j) for j in value] if isinstance(value, list) else value

    @field_validator("places", "radius_km", mode="before")
    @classmethod
    def _numbers_not_booleans(cls, value: object) -> object:
        return _no_bool(value)

    @field_validator("jobs")
    @classmethod
    def _clean_jobs(cls, jobs: list[str]) -> list[str]:
        cleaned = [j.strip() for j in jobs if j and j.strip()]
        if any(len(j) > 120 for j in cleaned):
            raise ValueError("Un intitulé de métier ne doit pas dépasser 120 caractères.")
        return cleaned

    @field_validator("needs")
    @classmethod
    def _unique_needs(cls, needs: list[str]) -> list[str]:
        return list(dict.fromkeys(needs))
