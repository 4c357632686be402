"""API models of the matcher (preview, review queue)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


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


class FallbackOut(BaseModel):
    email: str
    academie: str | None


class PreviewOut(BaseModel):
    recipients: list[PreviewRecipient]
    fallback: FallbackOut | None
    explanation: str
    radius_km: float | None = None
    romes: list[str] = []


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


class ManualRouteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    uais: list[str] = Field(min_length=1, max_length=10, description="UAI des lycées à solliciter, le premier mène")


class ManualRouteOut(BaseModel):
    request_id: str
    assignments: int


