"""The partners' tables in intake's database: the partner and its API keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from shared.platform.clock import utcnow


def no_origins() -> list[str]:
    return []


class Partner(SQLModel, table=True):
    __tablename__ = "intake_partner"

    slug: str = Field(primary_key=True, max_length=40)  # as in CompanyRequest.source_partner
    name: str = Field(max_length=200)  # shown above the embedded form
    # Origins allowed to frame the form (CSP frame-ancestors) and to call the API from a browser (CORS).
    origins: list[str] = Field(default_factory=no_origins, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    disabled_at: datetime | None = None


class PartnerKey(SQLModel, table=True):
    __tablename__ = "intake_partner_key"

    prefix: str = Field(primary_key=True, max_length=20)  # shown to identify the key: « mlp_3f9a2c1b »
    key_hash: str = Field(unique=True, max_length=64)  # HMAC-SHA256 of the whole key (keys.py)
    partner: str = Field(index=True, max_length=40)
    scopes: str = Field(max_length=60)  # « submit,status »
    label: str | None = Field(default=None, max_length=120)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


PARTNER_TABLES = (Partner, PartnerKey)
