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
    in_pilot: bool = Field(default=True, description=(
        "Vrai si l'académie de l'entreprise fait partie des académies pilotes (routage complet vers les lycées). "
        "Faux : la demande est acceptée et transmise au référent entreprises de l'académie ou à l'équipe nationale"))
    pilot_notice: str | None = Field(default=None, description=(
        "Hors des académies pilotes : le message à montrer à l'entreprise (« Le service s'ouvre d'abord dans les "
        "académies de … ; votre demande sera transmise à … »)"))


class PilotOut(BaseModel):
    commune: str | None = Field(description="La commune reconnue (nom et code postal), vide si inconnue")
    academie: str | None = Field(description="Son académie, telle que l'écrit le catalogue")
    in_pilot: bool = Field(description="Vrai si la demande y serait transmise aux lycées (routage complet)")
    notice: str | None = Field(description="Hors des académies pilotes : le message honnête à montrer avant l'envoi")
    pilot_academies: list[str] = Field(description="Les académies pilotes (vide : toutes les académies)")


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
    in_pilot: bool = Field(default=True, description="Faux hors des académies pilotes : la demande va au référent "
                           "entreprises de l'académie ou à l'équipe nationale, pas directement aux lycées")
    timeline: list[TimelineEntryOut]


class ImpactFigures(BaseModel):
    """Null for a count from 1 to 4 (« moins de 5 ») and for a median over fewer than 5 answers."""

    received: int | None
    routed: int | None
    answered: int | None
    median_hours_to_first_answer: float | None


class AcademieImpact(ImpactFigures):
    academie: str


class NeedImpact(ImpactFigures):
    need: str
    label: str


class SourceImpactV1(ImpactFigures):
    source: str = Field(description="form, api, embed (formulaire intégré), partner_api (clé d'un partenaire), campaign")
    label: str


class PilotImpact(ImpactFigures):
    pilot: str = Field(description="inside : académie pilote au dépôt de la demande ; outside : hors des académies "
                       "pilotes (transmise au référent entreprises de l'académie ou à l'équipe nationale)")
    label: str


class ImpactOut(BaseModel):
    period: str
    period_label: str
    since: str | None
    totals: ImpactFigures
    by_academie: list[AcademieImpact]
    by_need: list[NeedImpact]
    by_source: list[SourceImpactV1] = []
    by_pilot: list[PilotImpact] = []


class ImpactCounts(BaseModel):
    """A count is null when it is from 1 to 4 (« moins de 5 », see ``threshold``); a rate or a median is
    null when fewer than 5 requests had an answer."""

    received: int | None
    routed: int | None
    interactions: int | None = Field(description="Demandes qui ont reçu une réponse humaine d'un lycée")
    answer_rate_percent: int | None = Field(description="Interactions / demandes transmises, en %")
    median_hours_to_first_answer: float | None
    actions: dict[str, int | None] = Field(description="Actions conjointes par type (voir action_kinds)")
    actions_total: int | None


class AcademieImpactV2(ImpactCounts):
    academie: str


class NeedImpactV2(ImpactCounts):
    need: str
    label: str


class SourceImpact(ImpactCounts):
    source: str = Field(description="form, partner ou campaign")
    label: str


class PartnerImpact(ImpactCounts):
    partner: str = Field(description="Identifiant du partenaire (formulaire intégré, clé d'API, campagnes)")
    label: str


class PilotImpactV2(ImpactCounts):
    pilot: str = Field(description="inside (académie pilote) ou outside (hors pilote, transmise au référent)")
    label: str


class ActionKind(BaseModel):
    kind: str
    label: str


class MonthActions(BaseModel):
    month: str = Field(description="AAAA-MM")
    label: str
    actions: int | None


class ImpactV2Out(BaseModel):
    period: str
    period_label: str
    since: str | None
    threshold: int = Field(description="Les nombres de 1 à threshold - 1 sont publiés comme null (« moins de 5 »)")
    action_kinds: list[ActionKind]
    totals: ImpactCounts
    by_academie: list[AcademieImpactV2]
    by_need: list[NeedImpactV2]
    by_source: list[SourceImpact]
    by_partner: list[PartnerImpact] = Field(description="Demandes apportées par chaque partenaire, mêmes règles")
    by_pilot: list[PilotImpactV2] = Field(default=[], description="Académies pilotes et hors pilote, mêmes règles")
    actions_by_month: list[MonthActions]


class Suggestion(BaseModel):
    label: str
    value: str
    code: str | None = None
