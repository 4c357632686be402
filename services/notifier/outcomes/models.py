"""One row per outcome question asked to one participant: the unit of « asked once » and « answered once »."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from services.notifier.models import _ts, new_id
from shared.platform.clock import utcnow


class OutcomeQuestion(SQLModel, table=True):
    """« Qu'est-ce qui en est sorti ? » asked to one participant of a taken request: round 1 after the
    delay, round 2 once after « rien pour l'instant ». Unique per (thread, participant, round): a pass
    run twice, or by two instances at once, asks once. Its id is the nonce of every choice link, so the
    first choice used spends them all (``notifier_action_use``)."""

    __tablename__ = "notifier_outcome_question"
    __table_args__ = (
        UniqueConstraint("thread_id", "participant_id", "asked_round", name="uq_outcome_question"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    thread_id: str = Field(index=True, max_length=32)
    participant_id: str = Field(max_length=32)
    respondent: str = Field(max_length=10)  # company | rbe
    asked_round: int = 1
    entry_id: str = Field(max_length=32)  # the thread entry its email is a copy of
    asked_at: datetime = Field(sa_column=_ts(nullable=False))
    answered_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    kind: str | None = Field(default=None, max_length=20)  # shared.contracts.events.OutcomeKind
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


OUTCOME_TABLES = (OutcomeQuestion,)
