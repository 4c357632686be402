"""Intake's copy of the outcomes of its requests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from shared.platform.clock import utcnow


class RequestOutcome(SQLModel, table=True):
    """One answer to « Qu'est-ce qui en est sorti ? » (the notifier's question id as primary key)."""

    __tablename__ = "intake_outcome"

    id: str = Field(primary_key=True, max_length=40)
    request_id: str = Field(index=True, max_length=36)
    respondent: str = Field(max_length=10)  # company | rbe
    respondent_label: str = Field(default="", max_length=300)
    kind: str = Field(max_length=20)  # shared.contracts.events.OutcomeKind
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    asked_round: int = 1
    answered_at: datetime
    created_at: datetime = Field(default_factory=utcnow)


OUTCOME_TABLES = (RequestOutcome,)
