"""Notifier tables: one Thread per request, its Participants, the Messages of the thread, one
OutboundEmail row per (thread, recipient, message) and every InboundEmail stored raw."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic_core import PydanticUndefined
from sqlalchemy import Column, DateTime, Index, LargeBinary, Text, TypeDecorator, UniqueConstraint
from sqlalchemy.orm import configure_mappers
from sqlmodel import Field, SQLModel

from shared.platform.clock import utcnow
from shared.platform.ids import time_ordered_uuid


def new_id() -> str:
    """Time-ordered: rows made together sit together in their indexes (see ``time_ordered_uuid``)."""
    return time_ordered_uuid().hex


def id_tail(row_id: str) -> str:
    """A short piece of a row id for a name built from it (a Message-ID, a placeholder address): its
    random end. The first 12 hex digits of a ``new_id`` are the millisecond it was made, the same for
    every row made in that millisecond."""
    return row_id[-12:]


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC on the way in and out (SQLite forgets the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


Row = TypeVar("Row", bound=SQLModel)
_DEFAULTS: dict[type, tuple[tuple[str, Any, Callable[[], Any] | None], ...]] = {}


def new_row(cls: type[Row], **values: Any) -> Row:
    """A new (transient) object of a table model, as ``cls(**values)`` makes it, in a tenth of the time.

    The constructor of a SQLModel table model sets every field through SQLAlchemy's and pydantic's
    ``__setattr__`` (about 60 µs for a participant; a new thread builds seven such objects). Here
    the instance and its SQLAlchemy state come from the class manager, the way SQLAlchemy builds
    the rows it loads, and the values (given, else the field's default or default factory) go
    straight into ``__dict__``, where both libraries read them. A session that adds the object
    inserts it as usual (an INSERT reads the object's ``__dict__``). Every default of these models
    is immutable, so one default object may be shared."""
    plan = _DEFAULTS.get(cls)
    if plan is None:
        configure_mappers()  # the constructor does it on first use; new_instance does not
        plan = _DEFAULTS[cls] = tuple((name, f.default, f.default_factory)  # type: ignore[misc]
                                      for name, f in cls.model_fields.items())
    unknown = values.keys() - cls.model_fields.keys()
    if unknown:
        raise TypeError(f"{cls.__name__} has no field {', '.join(sorted(unknown))}")
    obj = cls._sa_class_manager.new_instance()  # type: ignore[attr-defined]
    fields = obj.__dict__
    for name, default, factory in plan:
        if name in values:
            fields[name] = values[name]
        elif factory is not None:
            fields[name] = factory()
        elif default is not PydanticUndefined:
            fields[name] = default
    object.__setattr__(obj, "__pydantic_fields_set__", set(values))
    return obj


def _ts(**kw) -> Column:
    return Column(UTCDateTime(), **kw)


class Thread(SQLModel, table=True):
    __tablename__ = "notifier_thread"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    token: str = Field(unique=True, max_length=16)  # short id used in reply addresses
    request_id: str = Field(unique=True, max_length=36)
    subject: str = Field(max_length=300)
    root_message_id: str = Field(max_length=200)
    company_name: str = Field(max_length=300)
    needs: str = Field(default="", max_length=300)
    academie: str | None = Field(default=None, max_length=100)
    fallback_email: str | None = Field(default=None, max_length=320)
    request_summary: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    routed_at: datetime = Field(sa_column=_ts(nullable=False))
    first_answer_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    gave_up_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    erased: bool = False
    # The request's correlation id: replies processed later are logged under it too.
    correlation_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class Participant(SQLModel, table=True):
    __tablename__ = "notifier_participant"
    __table_args__ = (UniqueConstraint("thread_id", "token", name="uq_participant_token"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    thread_id: str = Field(index=True, foreign_key="notifier_thread.id", max_length=32)
    token: str = Field(max_length=16)
    role: str = Field(max_length=10)  # lead | copy | company | fallback
    email: str = Field(max_length=320)
    name: str | None = Field(default=None, max_length=200)
    label: str = Field(default="", max_length=500)  # e.g. lycées' names
    assignment_id: str | None = Field(default=None, index=True, max_length=36)
    status: str = Field(default="pending", max_length=12)  # AssignmentStatus for RBEs
    active: bool = True  # still receives the thread's messages
    failing: bool = False  # a bounce came back for this address
    lead_since: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    reminded_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    expired_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class ThreadEntry(SQLModel, table=True):
    """One message of the thread (what was said, once), whatever the number of copies sent."""

    __tablename__ = "notifier_message"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    thread_id: str = Field(index=True, foreign_key="notifier_thread.id", max_length=32)
    kind: str = Field(max_length=20)  # initial|reply|reminder|escalation|followup|status|giveup|transfer
    author_participant_id: str | None = Field(default=None, max_length=32)
    author_role: str = Field(default="system", max_length=10)
    text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    inbound_id: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class OutboundEmail(SQLModel, table=True):
    """The unit of idempotency: one row per (thread, recipient, message), Message-ID precomputed."""

    __tablename__ = "notifier_outbound"
    __table_args__ = (
        UniqueConstraint("entry_id", "participant_id", name="uq_outbound_copy"),
        Index("ix_outbound_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    thread_id: str = Field(index=True, max_length=32)
    entry_id: str = Field(max_length=32)
    participant_id: str = Field(max_length=32)
    kind: str = Field(max_length=20)
    to_email: str = Field(max_length=320)
    envelope_from: str = Field(max_length=320)
    # The request's correlation id, so the send is logged under it (form submission -> last email).
    correlation_id: str | None = Field(default=None, max_length=64)
    message_id: str = Field(unique=True, max_length=200)
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    status: str = Field(default="pending", max_length=10)  # pending | sent | dead | cancelled
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    lease_until: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_error: str | None = Field(default=None, max_length=500)
    sent_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class InboundEmail(SQLModel, table=True):
    """Every accepted SMTP transaction, stored raw BEFORE it is processed."""

    __tablename__ = "notifier_inbound"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    rcpt: str = Field(max_length=320)
    mail_from: str = Field(default="", max_length=320)
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    thread_id: str | None = Field(default=None, index=True, max_length=32)
    participant_id: str | None = Field(default=None, max_length=32)
    # received|accepted|duplicate|refused_attachments|undecodable|held|auto_reply|bounce|malformed|failed
    # (wrong_sender: rows stored before senders were held)
    outcome: str = Field(default="received", max_length=20)
    # Why a message is held (outcome "held"): unknown_sender | dkim_fail | spf_fail | misaligned
    hold_reason: str | None = Field(default=None, max_length=20)
    # The connection (client_ip, helo) then what the sender checks found (service/authentication.py), JSON
    auth: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # A held message relayed by the participant's « Transmettre quand même »
    released_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    received_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    processed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class InboundRelayed(SQLModel, table=True):
    """A message relayed in a thread, once: keyed by its Message-ID (hashed), or by the hash of its raw
    bytes when it has none. Inserted in the transaction that relays it, so the same message received
    again (several RCPTs in one transaction, a resend) hits the primary key instead of a second relay."""

    __tablename__ = "notifier_inbound_relayed"

    thread_id: str = Field(primary_key=True, max_length=32)
    message_key: str = Field(primary_key=True, max_length=80)  # "mid:<sha256>" | "raw:<sha256>"
    inbound_id: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class SenderVouch(SQLModel, table=True):
    """A sender a participant vouched for in a thread (« Transmettre quand même »): their later replies
    to that participant's address are relayed. The address is kept as a keyed hash only."""

    __tablename__ = "notifier_sender_vouch"

    thread_id: str = Field(primary_key=True, max_length=32)
    participant_id: str = Field(primary_key=True, max_length=32)
    sender_hash: str = Field(primary_key=True, max_length=64)  # HMAC-SHA256(secret, lower-cased address)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class ActionUse(SQLModel, table=True):
    """A one-click action token applied once (replays are refused)."""

    __tablename__ = "notifier_action_use"

    nonce: str = Field(primary_key=True, max_length=40)
    participant_id: str = Field(max_length=32)
    action: str = Field(max_length=12)
    used_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class ReferentAction(SQLModel, table=True):
    """The audit of an académie referent's action in a thread (a message to the company, a held reply
    relayed or set aside): who, when, what. Keyed by the back-office's idempotency key, inserted in the
    transaction of the action: the same key again finds the row and does nothing."""

    __tablename__ = "notifier_referent_action"

    idempotency_key: str = Field(primary_key=True, max_length=80)
    request_id: str = Field(index=True, max_length=36)
    action: str = Field(max_length=20)  # message, release, discard
    actor: str = Field(max_length=254)
    actor_name: str | None = Field(default=None, max_length=200)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


TABLES = (Thread, Participant, ThreadEntry, OutboundEmail, InboundEmail, InboundRelayed, SenderVouch, ActionUse,
          ReferentAction)
