"""The matcher's tables: requests seen, routing decisions, assignments, review queue, monthly load."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.platform.clock import utcnow


class RoutedRequest(SQLModel, table=True):
    """A request the matcher handled; keeps what an escalation or a manual route must re-publish."""

    __tablename__ = "matcher_request"

    request_id: str = Field(primary_key=True, max_length=36)
    company_key: str | None = Field(default=None, index=True, max_length=254)  # SIRET or folded email
    needs: str = Field(max_length=200)  # comma-separated NeedType values
    submitted_at: datetime = Field(index=True)
    academie: str | None = Field(default=None, max_length=80)
    original_request_id: str | None = Field(default=None, max_length=36)  # set on a follow-up
    payload: str = Field(sa_column=Column(Text, nullable=False))  # RequestSubmitted JSON (personal data)
    erased_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class RoutingDecision(SQLModel, table=True):
    """One routing decision (initial, escalation or manual) with every candidate's reasons."""

    __tablename__ = "matcher_routing_decision"

    id: str = Field(primary_key=True, max_length=36)
    request_id: str = Field(index=True, max_length=36)
    kind: str = Field(max_length=20)  # initial, escalation, manual
    unroutable: bool = False
    fallback_email: str | None = Field(default=None, max_length=254)
    radius_km: float | None = None
    explanation: str = Field(sa_column=Column(Text, nullable=False))
    candidates: str = Field(sa_column=Column(Text, nullable=False))  # JSON list, ranked
    romes: str = Field(default="", max_length=400)
    decision_ms: float = 0.0
    created_at: datetime = Field(default_factory=utcnow)


class Assignment(SQLModel, table=True):
    """One RBE asked to handle one request (possibly for several lycées)."""

    __tablename__ = "matcher_assignment"
    __table_args__ = (UniqueConstraint("request_id", "rbe_id", name="uq_assignment_request_rbe"),)

    id: str = Field(primary_key=True, max_length=36)
    request_id: str = Field(index=True, max_length=36)
    routing_id: str = Field(max_length=36)
    rbe_id: str = Field(max_length=254)
    rbe_email: str = Field(max_length=254)
    rbe_name: str | None = Field(default=None, max_length=200)
    is_generic_contact: bool = False
    role: str = Field(max_length=10)  # lead, copy
    status: str = Field(default="pending", max_length=20)
    uais: str = Field(max_length=400)  # comma-separated
    lycees: str = Field(sa_column=Column(Text, nullable=False))  # JSON list
    families: str = Field(default="", max_length=400)  # comma-separated establishment keys
    distance_km: float | None = None
    formations: str = Field(sa_column=Column(Text, nullable=False))  # JSON list of {cfd, label}
    reasons: str = Field(sa_column=Column(Text, nullable=False))  # JSON list
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ReviewItem(SQLModel, table=True):
    """A request nobody relevant was found for: the académie contact has it, an admin routes it."""

    __tablename__ = "matcher_review_item"

    request_id: str = Field(primary_key=True, max_length=36)
    reason: str = Field(max_length=40)  # unroutable, escalation_exhausted, outside_pilot
    academie: str | None = Field(default=None, max_length=80)
    fallback_email: str | None = Field(default=None, max_length=254)
    created_at: datetime = Field(default_factory=utcnow)
    resolved_at: datetime | None = None
    # Optimistic concurrency of the referents' actions: an action names the version it was offered on and
    # claims the item by a conditional UPDATE (version = seen); reopening the item bumps it too.
    version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    handled_by: str | None = Field(default=None, max_length=254)  # who acted last (referent's address)
    handled_by_name: str | None = Field(default=None, max_length=200)
    handled_at: datetime | None = None
    resolution: str | None = Field(default=None, max_length=20)  # assigned, rerouted, closed


class ReviewAction(SQLModel, table=True):
    """The audit of every referent's action on a request (who, when, what), one row per idempotency key:
    the same key again is answered with the stored result instead of acting twice."""

    __tablename__ = "matcher_review_action"

    idempotency_key: str = Field(primary_key=True, max_length=80)
    request_id: str = Field(index=True, max_length=36)
    action: str = Field(max_length=20)  # assign, reroute, close
    actor: str = Field(max_length=254)
    actor_name: str | None = Field(default=None, max_length=200)
    detail: str = Field(sa_column=Column(Text, nullable=False))  # JSON: what was asked
    result: str = Field(sa_column=Column(Text, nullable=False))  # JSON: the answer given
    created_at: datetime = Field(default_factory=utcnow)


class MonthlyLoad(SQLModel, table=True):
    """Requests routed to a UAI in a calendar month (capacity check)."""

    __tablename__ = "matcher_monthly_load"
    __table_args__ = (UniqueConstraint("uai", "month", name="uq_monthly_load"),)

    id: int | None = Field(default=None, primary_key=True)
    uai: str = Field(max_length=8)
    month: str = Field(max_length=7, index=True)  # YYYY-MM
    count: int = 0


TABLES = (RoutedRequest, RoutingDecision, Assignment, ReviewItem, ReviewAction, MonthlyLoad)
