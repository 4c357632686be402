"""API models of the catalog (French field descriptions in the OpenAPI document)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field


class JobSuggestion(BaseModel):
    label: str = Field(description="Intitulé du métier (appellation ROME, fiche ROME, métier ONISEP ou titre professionnel)")
    rome: str = Field(description="Code ROME")
    rome_label: str = Field(description="Intitulé de la fiche ROME")
    source: str = Field(description="appellation, rome, onisep ou certif (intitulé d'un titre professionnel)")
    taught: bool = Field(default=True, description="Au moins un lycée situé forme à ce métier")


class UnderstoodJob(BaseModel):
    rome: str = Field(description="Code ROME")
    label: str = Field(description="Intitulé de la fiche ROME")
    score: float = Field(description="Proximité du texte saisi (0 à 1)")
    via: str = Field(description="Intitulé qui a permis de reconnaître le métier")
    taught: bool = Field(description="Au moins un lycée situé forme à ce métier")


class UnderstoodFormation(BaseModel):
    cfd: str
    label: str
    weight: float = Field(description="Poids du diplôme pour ce métier (0 à 1)")
    why: str = Field(description="Source du lien métier-diplôme (Certif Info, ONISEP, intitulé…)")
    common_first_year: bool = Field(description="Seconde commune d'une famille de métiers")
    lycees: int = Field(description="Lycées situés qui enseignent ce diplôme (0 : aucun lycée du catalogue)")


class JobUnderstanding(BaseModel):
    """What the service understands of a job typed by a company, before it submits."""

    text: str
    status: Literal["compris", "corrige", "vague", "inconnu"]
    message: str = Field(description="Phrase à montrer à l'entreprise")
    correction: str | None = Field(default=None, description="Proposition quand le texte semble mal orthographié")
    diploma: str | None = None
    jobs: list[UnderstoodJob]
    alternatives: list[UnderstoodJob]
    formations: list[UnderstoodFormation] = Field(
        description="Diplômes retenus : ceux qu'un lycée enseigne d'abord, puis les plus pertinents")


class CommuneSuggestion(BaseModel):
    insee: str
    name: str
    postal_code: str
    departement: str
    label: str
    latitude: float | None = None
    longitude: float | None = None


class FormationBrief(BaseModel):
    cfd: str
    label: str
    diploma: str
    level: int | None = None
    level_text: str = Field(description="Niveau en clair, ex. « niveau 3, 2 ans »")
    tracks: list[str] = Field(description="scolaire et/ou apprentissage")
    last_seen_year: int | None = None
    derived_from: str | None = Field(default=None, description="parent, famille ou successeur si déduite")


class LyceeResult(BaseModel):
    uai: str
    uais: list[str] = Field(description="UAI regroupées dans ce résultat (lycée et sa SEP)")
    name: str
    type_court: str
    secteur: str
    private_hors_contrat: bool
    bts_only: bool
    commune: str
    postal_code: str | None
    departement: str
    academie: str
    distance_km: float | None
    relevance: float = Field(description="Pertinence pour le métier ou le texte cherché (0 à 1 pour un métier)")
    formations: list[FormationBrief]
    profile_url: str
    highlights: list[str] = Field(default=[], description="Ce que le lycée a écrit qui le fait monter : services, "
                                  "période de PFMP compatible, événements à venir")


class LyceeSearchPage(BaseModel):
    total: int
    page: int
    per_page: int
    place: CommuneSuggestion | None = None
    radius_km: float | None = None
    results: list[LyceeResult]


class JobGroup(BaseModel):
    rome: str
    rome_label: str
    common_titles: list[str]


class DomainGroup(BaseModel):
    domain: str
    jobs: list[JobGroup]


class InsertionFigure(BaseModel):
    millesime: str
    population: str
    employment_rate_6m: float | None
    expected_employment_rate_6m: float | None
    added_value: float | None
    further_studies_rate: float | None


class ContactInfo(BaseModel):
    email: str
    name: str | None
    is_generic: bool = Field(description="Adresse générique de l'établissement (aucun RBE nommé connu)")
    deputy_email: str | None = None
    absent_from: date | None = None
    absent_until: date | None = None


class PfmpClassOut(BaseModel):
    classe: str
    label: str = Field(description="Classe en clair : « Première (1re) »")
    formation: str | None = Field(default=None, description="Formation concernée, sinon toute la classe")
    cfd: str | None = None
    dates: str = Field(description="Dates saisies par le lycée")
    period: str = Field(description="Dates comprises, en clair")
    ranges: str = Field(description="Plages MM-JJ/MM-JJ séparées par « ; » (l'année n'est pas prise en compte)")


class EventOut(BaseModel):
    kind: str
    kind_label: str
    title: str
    starts_on: date
    ends_on: date | None = None
    when: str = Field(description="« le 12 mars 2027 »")
    details: str = ""


class LyceeProfile(BaseModel):
    uai: str
    name: str
    type_court: str
    secteur: str
    private_hors_contrat: bool
    bts_only: bool
    address: str
    postal_code: str
    commune: str
    departement: str
    academie: str
    region: str
    telephone: str
    web: str
    fiche_onisep: str
    parent_uai: str | None
    formations_uai: str | None
    formations: list[FormationBrief]
    domains: list[DomainGroup]
    insertion: list[InsertionFigure]
    insertion_year: str | None
    pitch: str
    services: list[str]
    pfmp_periods: str
    monthly_capacity: int | None
    contact: ContactInfo | None
    contact_url: str = Field(description="Lien vers le formulaire de demande, prérempli")
    pitch_origin: str = Field(default="", description="« lycee » : rédigée par le lycée ; « brouillon » : proposée "
                              "à partir des données publiques et validée par le lycée")
    pfmp: list[PfmpClassOut] = []
    platforms: list[str] = []
    label_lycee_metiers: str = ""
    label_cmq: str = ""
    networks: list[str] = []
    partners: list[str] = Field(default=[], description="Entreprises partenaires ayant donné leur accord")
    events: list[EventOut] = Field(default=[], description="Événements à venir ouverts aux entreprises")
    image_url: str | None = None
    image_kind: str | None = None
    image_width: int | None = None
    image_height: int | None = None


class ImportLineError(BaseModel):
    line: int
    message: str


class RbeImportReport(BaseModel):
    imported: int
    awaiting_confirmation: int = Field(default=0, description="RBE importés qui doivent encore confirmer par le lien "
                                                              "reçu à leur adresse (les demandes vont d'ici là à "
                                                              "l'adresse actuelle du lycée)")
    errors: list[ImportLineError]


class AcademieFallbackIn(BaseModel):
    email: str = Field(max_length=254, description="Adresse de repli de l'académie (référent entreprises)")


class AcademieFallbackOut(BaseModel):
    academie: str
    email: str


class CoverageLineOut(BaseModel):
    academie: str = Field(description="Académie (vide sur le total national)")
    departement: str = Field(description="Code du département (vide sur le total d'une académie)")
    lycees: int
    avec_rbe: int = Field(description="Lycées dont le ou la RBE est désigné(e) et a confirmé")
    profil_complete: int = Field(description="Lycées dont la fiche indique services, périodes de PFMP et présentation")
    part_rbe: float = Field(description="avec_rbe / lycees (0 à 1)")
    part_profil: float = Field(description="profil_complete / lycees (0 à 1)")


class NetworkCoverageOut(BaseModel):
    total: CoverageLineOut
    academies: list[CoverageLineOut]
    departements: list[CoverageLineOut]
