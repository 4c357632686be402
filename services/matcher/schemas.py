"""API models of the matcher (preview, review queue)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.events import AdditionalRbe


class FormationOut(BaseModel):
    cfd: str
    label: str


class PreviewRecipient(BaseModel):
    uai: str
    lycee: str
    uais: list[str]  # every lycée this RBE is asked for (SEP/parent or several lycées of one RBE)
    lycees: list[str]
    rbe_email: str
    role: str  # lead | copy
    distance_km: float | None
    formations: list[FormationOut]
    reasons: list[str]
    # The other confirmed RBEs of these lycées: copied in the thread, without an assignment of their own.
    additional_rbes: list[AdditionalRbe] = []


class FallbackOut(BaseModel):
    email: str
    academie: str | None


class PreviewOut(BaseModel):
    recipients: list[PreviewRecipient]
    fallback: FallbackOut | None
    explanation: str
    radius_km: float | None = None
    romes: list[str] = []
    in_pilot: bool = True  # False: outside the pilot académies, the request would go to the fallback only


class ReviewItemOut(BaseModel):
    request_id: str
    reason: str
    academie: str | None
    fallback_email: str | None
    created_at: datetime
    needs: list[str]
    jobs: list[str]
    commune: str | None
    company_name: str
    explanation: str
    version: int = 0  # name it in an action (expected_version): the action takes effect only on this version
    resolution: str | None = None  # assigned, rerouted, closed (when resolved by a referent)
    handled_by: str | None = None
    handled_by_name: str | None = None
    handled_at: datetime | None = None


class ReviewActionIn(BaseModel):
    """A referent's action on a request (back-office). Send an ``Idempotency-Key`` header with it."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["assign", "reroute", "close"]
    actor: str = Field(min_length=3, max_length=254, description="Adresse du référent qui agit")
    actor_name: str | None = Field(default=None, max_length=200)
    academie: str | None = Field(default=None, max_length=80, description="Académie du référent (portée)")
    expected_version: int = Field(ge=0, le=1_000_000_000, description="Version de la demande affichée au référent (0 : jamais en revue)")
    uais: list[str] = Field(default=[], max_length=10, description="assign : lycées choisis, le premier mène")
    jobs: list[str] = Field(default=[], max_length=5, description="reroute : métier corrigé")
    postal_code: str | None = Field(default=None, max_length=10, description="reroute : code postal corrigé")
    reason: str = Field(default="", max_length=1000, description="close : raison de la clôture")


class ReviewActionOut(BaseModel):
    request_id: str
    action: str
    resolution: str
    assignments: int
    handled_by: str
    handled_by_name: str | None
    handled_at: datetime
    explanation: str = ""
    replayed: bool = False


class ManualRouteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    uais: list[str] = Field(min_length=1, max_length=10, description="UAI des lycées à solliciter, le premier mène")


class ManualRouteOut(BaseModel):
    request_id: str
    assignments: int


