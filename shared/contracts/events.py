"""The event contract: every stream name and every event schema, defined once.

Each event carries ``event_id`` (idempotency key for consumers), ``schema_version``,
``occurred_at`` and the ``correlation_id`` of the HTTP request that started the flow.
A consumer that receives a ``schema_version`` it does not know dead-letters the entry
instead of guessing.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from shared.platform.ids import time_ordered_uuid


class Streams:
    """Redis stream names. One stream per event family; one consumer group per consuming service."""

    REQUEST_SUBMITTED = "mlp.request.submitted"  # intake -> matcher
    REQUEST_ROUTED = "mlp.request.routed"  # matcher -> notifier, intake
    REQUEST_FOLLOWUP = "mlp.request.followup"  # matcher -> notifier, intake (repeat request attached)
    REQUEST_ERASED = "mlp.request.erased"  # intake -> matcher, notifier (personal data deleted)
    ASSIGNMENT_CHANGED = "mlp.assignment.changed"  # notifier -> matcher, intake (accepted/declined/expired…)
    THREAD_MESSAGE = "mlp.thread.message"  # notifier -> intake (status page timeline)
    CATALOG_CHANGED = "mlp.catalog.changed"  # catalog -> matcher, notifier (a lycée's RBE changed)
    OUTCOME_RECORDED = "mlp.outcome.recorded"  # notifier -> intake (what came out of a taken request)

    ALL: ClassVar[tuple[str, ...]] = (
        REQUEST_SUBMITTED,
        REQUEST_ROUTED,
        REQUEST_FOLLOWUP,
        REQUEST_ERASED,
        ASSIGNMENT_CHANGED,
        THREAD_MESSAGE,
        CATALOG_CHANGED,
        OUTCOME_RECORDED,
    )

    @staticmethod
    def dead_letter(group: str) -> str:
        return f"mlp.deadletter.{group}"


NeedType = Literal[
    "pfmp", "apprentissage", "recrutement", "intervention", "visite", "jury", "materiel", "soutien", "autre"
]
NEED_TYPES: tuple[str, ...] = get_args(NeedType)


def _now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_type: ClassVar[str] = "event"
    stream: ClassVar[str] = ""
    event_id: uuid.UUID = Field(default_factory=time_ordered_uuid)
    schema_version: int = 1
    occurred_at: datetime = Field(default_factory=_now)
    correlation_id: str


# ---------------------------------------------------------------- request side
class Location(BaseModel):
    postal_code: str | None = None
    commune_insee: str | None = None
    commune_name: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    departement: str | None = None


class Contact(BaseModel):
    name: str
    email: str
    phone: str | None = None


SourceKind = Literal["form", "api", "embed", "partner_api", "campaign"]


class RequestSource(BaseModel):
    """Where a request came from (issue 20): the direct form or API, a partner's embedded form, a
    partner's API key, or an invitation campaign. Attribution for the impact figures and the
    partners' own summaries; it never changes routing."""

    kind: SourceKind = "form"
    partner: str | None = None  # partner slug: the embedding site, the API key's owner, or the campaign's
    campaign: str | None = None  # campaign id, for kind == "campaign"


class RequestSubmitted(Event):
    """A company's qualified request, accepted by intake."""

    event_type: ClassVar[str] = "request.submitted"
    stream: ClassVar[str] = Streams.REQUEST_SUBMITTED
    request_id: uuid.UUID
    submitted_at: datetime
    needs: list[NeedType]
    jobs: list[str] = []  # as typed by the company, or ROME codes
    naf: str | None = None
    siret: str | None = None
    location: Location
    radius_km: int | None = None
    company_name: str
    contact: Contact
    message: str = ""
    places: int | None = None
    period: str | None = None
    preferred_uai: str | None = None  # set when the company came from a lycée's profile page
    status_url: str | None = None
    source: RequestSource = Field(default_factory=RequestSource)
    # Pilot académies (issue 20), decided once by intake when the request is taken: False means the
    # company's académie is not open yet, so the request goes to the académie's contact, not to RBEs.
    in_pilot: bool = True
    # What the company was told, outside the pilot (« Le service s'ouvre d'abord dans les académies de … ;
    # votre demande sera transmise à … »); None inside the pilot.
    pilot_notice: str | None = None


class FormationRef(BaseModel):
    cfd: str
    label: str


class AdditionalRbe(BaseModel):
    """Another confirmed RBE of a recipient's lycées (issue 22): a copy participant of the thread, without an
    assignment of their own; ``lycees``: the display names of the lycées they answer for."""

    email: str
    name: str | None = None
    lycees: list[str] = []


class RoutedRecipient(BaseModel):
    """One RBE chosen for the request: one assignment, possibly covering several lycées."""

    assignment_id: uuid.UUID
    rbe_email: str
    rbe_name: str | None = None
    role: Literal["lead", "copy"]
    is_generic_address: bool = False  # the school's generic address, no named RBE yet
    uais: list[str]
    lycees: list[str]  # display names, same order as uais
    distance_km: float | None = None
    formations: list[FormationRef] = []
    reasons: list[str] = []
    # The other confirmed RBEs of these lycées, copied in the thread; never one of the event's recipients, and
    # each address in one recipient at most (empty in older events).
    additional_rbes: list[AdditionalRbe] = []


class RequestRouted(Event):
    """Routing decision for a request (first routing or an escalation re-route)."""

    event_type: ClassVar[str] = "request.routed"
    stream: ClassVar[str] = Streams.REQUEST_ROUTED
    request_id: uuid.UUID
    routing_id: uuid.UUID
    submitted_at: datetime
    kind: Literal["initial", "escalation"] = "initial"
    needs: list[NeedType]
    academie: str | None = None
    company_name: str
    contact: Contact
    jobs: list[str] = []
    message: str = ""
    places: int | None = None
    period: str | None = None
    commune_name: str | None = None
    recipients: list[RoutedRecipient]
    fallback_email: str | None = None  # académie fallback when nothing relevant was found
    unroutable: bool = False
    explanation: str = ""
    # What each typed job was understood as, in French: « boulangé » → Boulanger / Boulangère (D1102) → CAP …
    understood: list[str] = []
    status_url: str | None = None  # the company's private status page, repeated in its acknowledgement
    # Outside the pilot académies (issue 20): sent to the académie's contact (or the national team), not to
    # RBEs; the notifier says why in both emails, with the notice the company was shown.
    in_pilot: bool = True
    pilot_notice: str | None = None


class RequestChange(BaseModel):
    """One detail a repeat request changed, as shown to people (``needs``: comma-separated codes)."""

    field: Literal["needs", "jobs", "place", "period", "places", "message"]
    before: str = ""
    after: str = ""


class RequestFollowUp(Event):
    """A repeat request (same company, same need, within 21 days) attached to an existing one."""

    event_type: ClassVar[str] = "request.followup"
    stream: ClassVar[str] = Streams.REQUEST_FOLLOWUP
    request_id: uuid.UUID  # the new, repeated request
    original_request_id: uuid.UUID
    message: str = ""
    changes: list[RequestChange] = []  # what the repeat changed, for the thread
    # Set when the new job or place changed whom routing chooses: every RBE now concerned, lead first
    # (the others leave the thread, newcomers join it with its history).
    rerouted: bool = False
    recipients: list[RoutedRecipient] = []


class RequestErased(Event):
    """The company asked for deletion, or retention expired: forget the personal data."""

    event_type: ClassVar[str] = "request.erased"
    stream: ClassVar[str] = Streams.REQUEST_ERASED
    request_id: uuid.UUID
    reason: Literal["company_request", "retention"]


AssignmentStatus = Literal["pending", "accepted", "declined", "transferred", "expired", "answered"]


class AssignmentChanged(Event):
    """An RBE acted on an assignment (one-click action or email reply), or its deadline passed."""

    event_type: ClassVar[str] = "assignment.changed"
    stream: ClassVar[str] = Streams.ASSIGNMENT_CHANGED
    request_id: uuid.UUID
    assignment_id: uuid.UUID
    rbe_email: str
    role: Literal["lead", "copy"]
    status: AssignmentStatus
    transfer_to_email: str | None = None
    note: str = ""


ThreadAuthorRole = Literal["system", "lead", "copy", "company"]
ThreadMessageKind = Literal["acknowledgement", "reply", "reminder", "escalation", "status"]


class ThreadMessage(Event):
    """A message in a request's thread, for the company's status page (no body for RBE-only notes)."""

    event_type: ClassVar[str] = "thread.message"
    stream: ClassVar[str] = Streams.THREAD_MESSAGE
    request_id: uuid.UUID
    message_id: str
    author_role: ThreadAuthorRole
    author_label: str  # e.g. "Lycée Hôtelier François Rabelais" or "MonLycéePro"
    kind: ThreadMessageKind
    text: str = ""  # stripped reply text (no quoted history)
    sent_at: datetime


CatalogChange = Literal["profile", "rbe", "capacity", "absence", "reload"]


class RbeChange(BaseModel):
    """A lycée's confirmed RBE (``change="rbe"``): ``new_email`` now answers for the lycée, next to or in
    place of ``previous_email`` (the address its open threads were sent to)."""

    model_config = ConfigDict(frozen=True)

    uai: str
    lycee_name: str
    previous_email: str
    new_email: str
    new_name: str | None = None
    replaces: bool = True  # False: an additional RBE of the lycée, the previous one stays


class CatalogChanged(Event):
    """A lycée's profile, services, capacity, absence or RBE changed; the matcher refreshes it, the
    notifier adds a newly confirmed RBE to the lycée's open threads (``rbe_changes``)."""

    event_type: ClassVar[str] = "catalog.changed"
    stream: ClassVar[str] = Streams.CATALOG_CHANGED
    uais: list[str]
    change: CatalogChange
    rbe_changes: list[RbeChange] = Field(default_factory=list)


OutcomeKind = Literal[
    "pfmp", "apprenti", "embauche", "intervention", "visite", "autre_action", "rien_encore", "pas_de_suite"
]
OUTCOME_KINDS: tuple[str, ...] = get_args(OutcomeKind)
# The outcomes that are joint actions (the others say nothing came of it, yet or at all).
JOINT_ACTION_KINDS: tuple[str, ...] = OUTCOME_KINDS[:6]
OUTCOME_LABELS: dict[str, str] = {  # what the emails, the status page and the impact page say
    "pfmp": "PFMP accueillie",
    "apprenti": "Apprenti·e recruté·e",
    "embauche": "Embauche",
    "intervention": "Intervention en classe",
    "visite": "Visite",
    "autre_action": "Autre action",
    "rien_encore": "Rien pour l'instant",
    "pas_de_suite": "Pas de suite",
}


class OutcomeRecorded(Event):
    """The company or the RBE who answered said what came out of a taken request (one-click choice in
    the notifier's « Qu'est-ce qui en est sorti ? » email). ``outcome_id`` is the question asked:
    one answer per question, so a repeat carries the same id."""

    event_type: ClassVar[str] = "outcome.recorded"
    stream: ClassVar[str] = Streams.OUTCOME_RECORDED
    request_id: uuid.UUID
    outcome_id: str
    respondent: Literal["company", "rbe"]
    respondent_label: str = ""  # the lycée's name for an RBE, the company's name otherwise
    kind: OutcomeKind
    note: str = Field(default="", max_length=1000)
    asked_round: int = 1  # 2: the one more question after « rien pour l'instant »
    answered_at: datetime


EVENT_TYPES: dict[str, type[Event]] = {
    cls.event_type: cls
    for cls in (
        RequestSubmitted,
        RequestRouted,
        RequestFollowUp,
        RequestErased,
        AssignmentChanged,
        ThreadMessage,
        CatalogChanged,
        OutcomeRecorded,
    )
}

AnyEvent = Annotated[Event, "one of EVENT_TYPES"]


def event_from_payload(payload: dict) -> Event:
    """Rebuild an event from its stream payload; raises ValueError on an unknown type or bad body."""
    event_type = payload.get("event_type")
    cls = EVENT_TYPES.get(str(event_type))
    if cls is None:
        raise ValueError(f"unknown event_type {event_type!r}")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise ValueError("missing event data")
    return cls.model_validate(data)


def event_to_payload(event: Event) -> dict:
    return {"event_type": event.event_type, "data": event.model_dump(mode="json")}


def event_payload_json(event: Event) -> str:
    """``json.dumps(event_to_payload(event))`` in compact form, serialised by pydantic's core in one
    pass instead of a dict of JSON-ready values then the json module (most of the cost of an
    outbox row)."""
    return f'{{"event_type":{json.dumps(event.event_type)},"data":{event.model_dump_json()}}}'
