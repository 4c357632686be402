"""Campaign tables (intake's database): the campaigns, their imported contacts, one invitation row
per contact (a ``shared.platform.mailing`` table) and the hashes of unsubscribed addresses."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.platform.clock import utcnow
from shared.platform.mailing import MailingFields, mailing_indexes


def no_jobs() -> list[str]:
    return []


class Campaign(SQLModel, table=True):
    __tablename__ = "intake_campaign"

    id: str = Field(primary_key=True, max_length=40)  # RequestSource.campaign of the requests it brings
    name: str = Field(unique=True, max_length=120)
    partner: str | None = Field(default=None, max_length=40)  # partner slug (RequestSource.partner)
    created_at: datetime = Field(default_factory=utcnow)


class CampaignContact(SQLModel, table=True):
    """One company of an imported file. Its personal fields are None once erased (retention,
    unsubscribe); the row stays, without them, for the campaign's figures."""

    __tablename__ = "intake_campaign_contact"
    __table_args__ = (
        # One contact per SIRET and per address across every campaign (NULLs, i.e. erased rows, repeat).
        UniqueConstraint("siret", name="uq_intake_campaign_contact_siret"),
        UniqueConstraint("contact_email", name="uq_intake_campaign_contact_email"),
        Index("ix_intake_campaign_contact_campaign", "campaign_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: str = Field(max_length=40)
    line: int  # line of the imported file (the header is line 1)
    siret: str | None = Field(default=None, max_length=14)
    company_name: str | None = Field(default=None, max_length=200)
    contact_name: str | None = Field(default=None, max_length=120)
    contact_email: str | None = Field(default=None, max_length=254)
    postal_code: str | None = Field(default=None, max_length=5)
    commune_insee: str | None = Field(default=None, max_length=5)
    commune_name: str | None = Field(default=None, max_length=120)
    naf: str | None = Field(default=None, max_length=7)
    jobs: list[str] = Field(default_factory=no_jobs, sa_column=Column(JSON, nullable=False))
    departement: str | None = Field(default=None, max_length=3)  # kept after erasure: no one is identified by it
    academie: str | None = Field(default=None, max_length=80)
    imported_at: datetime = Field(default_factory=utcnow)
    opened_at: datetime | None = None  # first opening of the signed link
    request_id: str | None = Field(default=None, max_length=36)  # first request submitted through the link
    submitted_at: datetime | None = None
    erased_at: datetime | None = None
    erasure_reason: str | None = Field(default=None, max_length=20)  # retention | unsubscribed


class CampaignInvitation(MailingFields, table=True):
    """One invitation per contact (``mailing`` is the campaign id)."""

    __tablename__ = "intake_campaign_invitation"
    __table_args__ = (*mailing_indexes("intake_campaign_invitation"),
                      UniqueConstraint("contact_id", name="uq_intake_campaign_invitation_contact"))

    contact_id: int


class Unsubscribed(SQLModel, table=True):
    """An address that asked for no more invitations, as a keyed hash only (tokens.address_hash)."""

    __tablename__ = "intake_campaign_unsubscribed"

    address_hash: str = Field(primary_key=True, max_length=64)
    unsubscribed_at: datetime = Field(default_factory=utcnow)


CAMPAIGN_TABLES = (Campaign, CampaignContact, CampaignInvitation, Unsubscribed)
