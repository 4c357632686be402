"""API output models (French descriptions: they are the partners' documentation)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class UnderstoodOut(BaseModel):
    text: str = Field(description="Métier tel que saisi")
    status: str = Field(description="compris, corrige (faute de frappe probable), vague ou inconnu")
    message: str = Field(description="« Nous avons compris : Boulanger / Boulangère. »")
    correction: str | None = Field(default=None, description="Proposition quand le texte semble mal orthographié")


class PeriodOut(BaseModel):
    text: str = Field(description="Période telle que saisie")
    understood: str | None = Field(default=None, description="Dates comprises, en clair (« du 2 au 27 mars »)")
    message: str = Field(description="« Nous avons compris : mars. Vos dates (mars) tombent pendant la PFMP des 1re "
                         "du lycée choisi. »")
    pfmp_fit: bool | None = Field(default=None, description="Les dates tombent pendant une PFMP du lycée choisi "
                                  "(vide sans lycée choisi ou sans périodes déclarées)")


class SubmitOut(BaseModel):
    request_id: str = Field(description="Identifiant de la demande")
    status_url: str = Field(description="Page de suivi privée (HTML ; JSON avec Accept: application/json)")
    status_api_url: str = Field(description="Suivi au format JSON")
    message: str = "Demande reçue : elle va être transmise aux lycées professionnels concernés."
    understood: list[UnderstoodOut] = Field(default=[], description="Ce que le service a compris de chaque métier saisi")
    understanding_checked: bool = Field(
        default=True, description="Faux si le catalogue n'a pas pu être consulté : les métiers sont transmis tels quels")


class NeedOut(BaseModel):
    code: str
    label: str


class TimelineEntryOut(BaseModel):
    at: str
    kind: str = Field(description="received, routed, followup, assignment, message, closed, erased")
    title: str
    text: str | None = None
    author: str | None = None


class StatusOut(BaseModel):
    request_id: str
    status: str = Field(description="received, routed, answered, closed, erased")
    status_label: str
    status_url: str
    submitted_at: str
    needs: list[NeedOut]
    jobs: list[str]
    commune: str | None
    postal_code: str | None
    company_name: str | None
    places: int | None
    period: str | None
    timeline: list[TimelineEntryOut]


class ImpactFigures(BaseModel):
    received: int
    routed: int
    answered: int
    median_hours_to_first_answer: float | None


class AcademieImpact(ImpactFigures):
    academie: str


class NeedImpact(ImpactFigures):
    need: str
    label: str


class ImpactOut(BaseModel):
    period: str
    period_label: str
    since: str | None
    totals: ImpactFigures
    by_academie: list[AcademieImpact]
    by_need: list[NeedImpact]


class Suggestion(BaseModel):
    label: str
    value: str
    code: str | None = None
