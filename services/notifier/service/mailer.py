"""Queue email copies as OutboundEmail rows (the background sender delivers them later) and
publish thread events through the outbox. Everything here runs inside the caller's transaction."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from services.notifier import repository as repo
from services.notifier.config import NotifierSettings
from services.notifier.models import Participant, Thread, ThreadEntry, id_tail
from services.notifier.service.addresses import ACTIONS, make_action_token, reply_address
from services.notifier.service.authentication import DnspythonResolver, Resolver
from services.notifier.service.calendar import Clock, WorkingCalendar, system_clock
from services.notifier.service.emails import Attachment, OutgoingCopy, compose, need_labels
from shared.contracts.events import AssignmentChanged, ThreadAuthorRole, ThreadMessage, ThreadMessageKind
from shared.platform.clock import utcnow
from shared.platform.logging import current_correlation_id, new_correlation_id
from shared.platform.outbox import add_to_outbox

RBE_ROLES = ("lead", "copy")
THREAD_ROLE: dict[str, ThreadAuthorRole] = {"lead": "lead", "copy": "copy", "fallback": "copy", "company": "company"}


@dataclass
class NotifierContext:
    """What the domain functions depend on: settings and a clock (injectable in tests)."""

    settings: NotifierSettings
    clock: Clock = field(default=system_clock)
    # DNS of the sender checks (service/authentication.py); None: dnspython with MLP_INBOUND_DNS_TIMEOUT_S
    resolver: Resolver | None = None

    def dns(self) -> Resolver:
        if self.resolver is None:
            self.resolver = DnspythonResolver(self.settings.inbound_dns_timeout_s)
        return self.resolver

    @property
    def calendar(self) -> WorkingCalendar:
        s = self.settings
        return WorkingCalendar(s.weekdays, s.french_holidays, s.timezone)

    def now(self) -> datetime:
        return self.clock()


def correlation() -> str:
    return current_correlation_id() or new_correlation_id()


def reply_address_of(ctx: NotifierContext, thread: Thread, participant: Participant) -> str:
    s = ctx.settings
    return reply_address(s.secret_key, s.reply_domain, thread.token, participant.token)


def action_links(ctx: NotifierContext, participant: Participant, lead: Participant | None = None) -> dict[str, str] | None:
    """The one-click links a copy offers: « Je m'en occupe » only while nobody handles the request
    (``lead``: the thread's lead, when known); decline and transfer while the RBE is in charge."""
    if participant.role not in RBE_ROLES or not participant.active or participant.status not in ("pending", "accepted"):
        return None
    base = ctx.settings.notifier_url.rstrip("/")
    secret = ctx.settings.secret_key
    handled_by_other = lead is not None and lead.id != participant.id and lead.status in ("accepted", "answered")
    offered = ("decline", "transfer") if participant.status != "pending" or handled_by_other else ACTIONS
    return {a: f"{base}/actions/{make_action_token(secret, participant.id, a)}" for a in offered}


def author_label(participant: Participant | None) -> str:
    if participant is None:
        return "MonLycéePro"
    if participant.role == "company":
        return participant.label or "L'entreprise"
    if participant.name and participant.label:
        return f"{participant.name} ({participant.label})"
    return participant.name or participant.label or "Le lycée"


def thread_context(session: Session, thread: Thread, people: list[Participant] | None = None) -> dict:
    """What every copy's template shows; ``people`` = the active participants when the caller has them."""
    if people is None:
        people = repo.participants(session, thread.id, active_only=True)
    lead = next((p for p in people if p.role == "lead"), None)
    return {
        "thread": thread,
        "summary": json.loads(thread.request_summary or "{}"),
        "needs": need_labels([n for n in thread.needs.split(",") if n]),
        "lead": lead,
        "lead_label": author_label(lead) if lead else None,
        "copies": [p for p in people if p.role == "copy"],
        "copy_labels": [author_label(p) for p in people if p.role == "copy"],
        "intake_url": "",
    }


def new_entry(session: Session, thread: Thread, kind: str, *, author: Participant | None = None,
              text: str = "", inbound_id: str | None = None, at: datetime | None = None) -> ThreadEntry:
    entry = ThreadEntry(thread_id=thread.id, kind=kind, author_participant_id=author.id if author else None,
                        author_role=author.role if author else "system", text=text, inbound_id=inbound_id)
    if at is not None:
        entry.created_at = at
    session.add(entry)  # flushed with the transaction (or by the next query's autoflush)
    return entry


@dataclass(frozen=True)
class QueuedCopy:
    """What callers use of a queued copy (its row is inserted without an ORM object)."""

    message_id: str
    participant_id: str


def queue_copy(session: Session, ctx: NotifierContext, thread: Thread, entry: ThreadEntry, recipient: Participant,
               template: str, *, attachments: list[Attachment] | None = None, shared: dict | None = None,
               first_copy: bool = False, batch: list[dict] | None = None, subject: str | None = None,
               **extra) -> QueuedCopy:
    """One copy of ``entry`` for ``recipient``, with its own Message-ID and reply address.

    ``shared``: the thread context already computed for this entry (several copies of one entry
    share it); ``first_copy``: the recipient got nothing in this thread yet (no lookup needed);
    ``batch``: the row is appended there, for the caller to insert with ``repo.insert_outbound``
    (one statement for all the copies of an entry), else it is inserted at once; ``subject``: instead
    of the thread's (the copy still threads by its references).
    """
    s = ctx.settings
    message_id = f"<{id_tail(entry.id)}.{recipient.token}.{thread.token}@{s.reply_domain}>"
    previous = None if first_copy else repo.last_message_id_to(session, recipient.id)
    references = [thread.root_message_id] + ([previous] if previous else [])
    common = shared if shared is not None else thread_context(session, thread)
    context = {**common, "recipient": recipient, "entry": entry,
               "actions": action_links(ctx, recipient, common.get("lead")), **extra}
    own_reply_address = reply_address_of(ctx, thread, recipient)
    now = ctx.now()
    raw = compose(OutgoingCopy(
        to_email=recipient.email, to_name=recipient.name, mail_from=s.mail_from, reply_to=own_reply_address,
        subject=subject or thread.subject, message_id=message_id, references=references, list_id=s.list_id,
        template=template, context=context, date=now, attachments=attachments or [],
    ))
    row = {"thread_id": thread.id, "entry_id": entry.id, "participant_id": recipient.id, "kind": entry.kind,
           "to_email": recipient.email, "envelope_from": own_reply_address, "correlation_id": current_correlation_id(),
           "message_id": message_id, "raw": raw, "status": "pending", "attempts": 0, "next_attempt_at": now,
           "lease_until": None, "last_error": None, "sent_at": None, "created_at": utcnow()}
    if batch is not None:
        batch.append(row)
    else:
        repo.insert_outbound(session, [row])
    return QueuedCopy(message_id=message_id, participant_id=recipient.id)


def publish_thread_message(session: Session, ctx: NotifierContext, thread: Thread, entry: ThreadEntry, kind: ThreadMessageKind,
                           *, author: Participant | None = None, text: str = "", message_id: str | None = None) -> None:
    add_to_outbox(session, ThreadMessage(
        correlation_id=correlation(), request_id=uuid.UUID(thread.request_id), message_id=message_id or entry.id,
        author_role=THREAD_ROLE.get(author.role, "system") if author else "system",
        author_label=author_label(author), kind=kind, text=text, sent_at=entry.created_at,
    ))


def publish_assignment(session: Session, thread: Thread, participant: Participant, status: str, *,
                       transfer_to: str | None = None, note: str = "") -> None:
    if participant.assignment_id is None or participant.role not in RBE_ROLES:
        return
    add_to_outbox(session, AssignmentChanged(
        correlation_id=correlation(), request_id=uuid.UUID(thread.request_id),
        assignment_id=uuid.UUID(participant.assignment_id),
        rbe_email=participant.email, role=participant.role, status=status,  # type: ignore[arg-type]
        transfer_to_email=transfer_to, note=note,
    ))
