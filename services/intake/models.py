"""Intake's tables: the company's Request, its status Timeline, and Idempotency keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

from shared.platform.clock import utcnow


def no_items() -> list[str]:
    # Not ``list``: pydantic inspects a default factory's signature on every construction, and a
    # builtin's costs ~0.1 ms (a timeline entry is built on every event intake consumes).
    return []


class CompanyRequest(SQLModel, table=True):
    __tablename__ = "intake_request"
    __table_args__ = (
        Index("ix_intake_request_email_created", "contact_email", "created_at"),
        Index("ix_intake_request_created", "created_at"),
    )

    id: str = Field(primary_key=True, max_length=36)
    token: str = Field(unique=True, index=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    channel: str = Field(max_length=10)  # form | api
    # Attribution (issue 20): RequestSource's kind, partner slug and campaign id.
    source_kind: str = Field(default="form", max_length=12)
    source_partner: str | None = Field(default=None, max_length=40)
    source_campaign: str | None = Field(default=None, max_length=40)
    in_pilot: bool = True  # the académie was in the pilot when the request was taken (issue 20)
    correlation_id: str = Field(max_length=64)
    needs: list[str] = Field(sa_column=Column(JSON, nullable=False))
    jobs: list[str] = Field(default_factory=no_items, sa_column=Column(JSON, nullable=False))
    naf: str | None = Field(default=None, max_length=7)
    siret: str | None = Field(default=None, max_length=14)
    postal_code: str | None = Field(default=None, max_length=5)
    commune_insee: str | None = Field(default=None, max_length=5)
    commune_name: str | None = Field(default=None, max_length=120)
    departement: str | None = Field(default=None, max_length=3)
    academie: str | None = Field(default=None, max_length=80)
    latitude: float | None = None
    longitude: float | None = None
    radius_km: int | None = None
    company_name: str = Field(max_length=200)
    contact_name: str = Field(max_length=120)
    contact_email: str = Field(max_length=254)
    contact_phone: str | None = Field(default=None, max_length=30)
    message: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    places: int | None = None
    period: str | None = Field(default=None, max_length=200)
    preferred_uai: str | None = Field(default=None, max_length=8)
    # Lifecycle, fed by the events intake consumes (also the source of the impact page).
    first_routed_at: datetime | None = None
    first_answered_at: datetime | None = None
    closed_at: datetime | None = None
    anonymised_at: datetime | None = None
    erasure_reason: str | None = Field(default=None, max_length=20)


class TimelineEntry(SQLModel, table=True):
    __tablename__ = "intake_timeline"
    __table_args__ = (Index("ix_intake_timeline_request", "request_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(max_length=36)
    at: datetime = Field(default_factory=utcnow)
    kind: str = Field(max_length=20)  # received, routed, followup, assignment, message, outcome, closed, erased
    title: str = Field(max_length=300)
    text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    author: str | None = Field(default=None, max_length=200)
    assignment_id: str | None = Field(default=None, max_length=36)
    assignment_status: str | None = Field(default=None, max_length=20)
    lycees: list[str] = Field(default_factory=no_items, sa_column=Column(JSON, nullable=False))


class IdempotencyKey(SQLModel, table=True):
    __tablename__ = "intake_idempotency"

    key: str = Field(primary_key=True, max_length=255)
    body_hash: str = Field(max_length=64)
    request_id: str = Field(max_length=36)
    created_at: datetime = Field(default_factory=utcnow)


INTAKE_TABLES = (CompanyRequest, TimelineEntry, IdempotencyKey)
