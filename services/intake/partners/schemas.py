"""The partner API's output models (French descriptions: they are the partners' documentation)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class PartnerStepOut(BaseModel):
    at: str = Field(description="Date et heure (ISO 8601, UTC)")
    kind: str = Field(description="received, routed, followup, assignment, message, closed, erased")
    title: str = Field(description="L'étape, en français (sans le texte des messages échangés)")


class PartnerRequestOut(BaseModel):
    """Where one of the partner's requests stands: the steps, not the exchanges between the company
    and the lycées (those stay on the company's private status page)."""

    request_id: str
    status: str = Field(description="received, routed, answered, closed, erased")
    status_label: str = Field(description="Le statut, en français")
    submitted_at: str
    first_routed_at: str | None = Field(description="Première transmission à un lycée")
    first_answered_at: str | None = Field(description="Première réponse d'un lycée")
    steps: list[PartnerStepOut]


class PartnerFigures(BaseModel):
    requests: int = Field(description="Demandes reçues (nombre exact)")
    routed: int = Field(description="Demandes transmises à au moins un lycée")
    answered: int = Field(description="Demandes qui ont reçu une première réponse d'un lycée")
    median_hours_to_first_answer: float | None = Field(description="Délai médian avant la première réponse, en heures")


class PartnerSourceFigures(PartnerFigures):
    source: str = Field(description="embed (formulaire intégré), partner_api (clé d'API) ou campaign")
    label: str


class PartnerSummaryOut(BaseModel):
    partner: str = Field(description="Identifiant du partenaire")
    name: str
    period: str
    period_label: str
    since: str | None
    totals: PartnerFigures
    by_source: list[PartnerSourceFigures]
