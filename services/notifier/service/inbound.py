"""Inbound replies: classify (bounce, auto-reply, sender not recognised or not authentic: held), strip quoted history and
device footers, store the reply and relay it to the other participants of the thread."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage, MIMEPart
from email.utils import parseaddr
from html import unescape

import structlog
from mailparser_reply import EmailReplyParser
from sqlmodel import Session

from services.notifier import metrics
from services.notifier import repository as repo
from services.notifier.models import InboundEmail, Participant, Thread
from services.notifier.service import attachments as attachment_rules
from services.notifier.service import senders
from services.notifier.service.addresses import verify_reply_address
from services.notifier.service.authentication import authenticate
from services.notifier.service.emails import Attachment
from services.notifier.service.mailer import (
    NotifierContext,
    author_label,
    new_entry,
    publish_assignment,
    publish_thread_message,
    queue_copy,
)

_AUTO_SUBJECT = re.compile(
    r"^\s*(absence|absent|out of (the )?office|automatic reply|auto[- ]?reply|r[ée]ponse automatique|"
    r"message automatique|en cong[ée]s?|autoreply|undeliverable|delivery status notification|"
    r"mail delivery (failed|failure)|non remis|returned mail)", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(r"(undeliver|delivery status notification|mail delivery (failed|failure)|"
                             r"non remis|returned mail|failure notice)", re.IGNORECASE)
_BOUNCE_SENDERS = ("mailer-daemon", "postmaster")


def parse(raw: bytes) -> EmailMessage:
    return message_from_bytes(raw, policy=policy.default)


def sender_address(msg: EmailMessage) -> str:
    return parseaddr(str(msg.get("From", "")))[1].strip().lower()


def is_bounce(msg: EmailMessage, mail_from: str) -> bool:
    envelope = mail_from.strip().strip("<>").lower()
    header_from = sender_address(msg)
    local = header_from.split("@")[0]
    if not envelope or envelope.split("@")[0] in _BOUNCE_SENDERS or local in _BOUNCE_SENDERS:
        return True
    if msg.get_content_type() == "multipart/report":
        return True
    return bool(_BOUNCE_SUBJECT.search(str(msg.get("Subject", "")))) and local.startswith(_BOUNCE_SENDERS)


def is_auto_reply(msg: EmailMessage) -> bool:
    """RFC 3834 and the usual vendor headers, then the usual French/English subjects."""
    auto = str(msg.get("Auto-Submitted", "no")).strip().lower()
    if auto and auto != "no":
        return True
    if str(msg.get("Precedence", "")).strip().lower() in ("bulk", "junk", "list", "auto_reply"):
        return True
    if any(msg.get(h) is not None for h in ("X-Autoreply", "X-Autorespond", "X-Autoresponder")):
        return True
    return bool(_AUTO_SUBJECT.match(str(msg.get("Subject", ""))))


def undecodable(part: MIMEPart) -> bool:
    """A base64 part whose content is not valid base64: Python decodes what it can and would hand
    over mojibake; such a part is neither relayed nor counted as an answer."""
    if part.is_multipart() or str(part.get("Content-Transfer-Encoding", "")).strip().lower() != "base64":
        return False
    payload = part.get_payload(decode=False)
    if not isinstance(payload, str):
        return False
    data = "".join(payload.split())
    try:
        base64.b64decode(data + "=" * (-len(data) % 4), validate=True)
    except (binascii.Error, ValueError):
        return True
    return False


def body_part(msg: EmailMessage) -> tuple[MIMEPart | None, bool]:
    """The text part of the reply (plain, else HTML) that can be decoded, and whether a candidate
    could not be."""
    spoiled = False
    for preference in ("plain", "html"):
        part = msg.get_body(preferencelist=(preference,))
        if part is None:
            continue
        if undecodable(part):
            spoiled = True
            continue
        return part, spoiled
    return None, spoiled


def body_text(msg: EmailMessage, part: MIMEPart | None = None) -> str:
    if part is None:
        part, _ = body_part(msg)
    if part is None:
        return ""
    content = part.get_content()
    if part.get_content_type() == "text/html":
        content = re.sub(r"(?is)<(script|style|blockquote).*?</\1>", "", content)
        content = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", content)
        content = unescape(re.sub(r"<[^>]+>", "", content))
    return content.replace("\r\n", "\n")


# Device and app footers a phone or webmail appends under the author's text: « Envoyé de mon iPhone »,
# « Sent from my Galaxy », « Télécharger Outlook pour Android »... Not the author's words: dropped.
_DEVICE_FOOTER = re.compile(
    r"^\s*("
    r"(envoy[ée]|exp[ée]di[ée]|sent|get|obtenir|t[ée]l[ée]charger)\s+(de|depuis|from|[àa] partir d[e']|with|avec|via)"
    r"\s+(mon|ma|my|un|une|an?|l['’]application|the)\b.{0,60}"
    r"|(envoy[ée]|sent)\s+(de|depuis|from|[àa] partir de|with|avec|via)\s+(yahoo|gmail|outlook|orange|free|sfr|proton|courrier|mail)"
    r"\b.{0,60}"
    r"|(get|obtenir|obtenez|t[ée]l[ée]charger|t[ée]l[ée]chargez)\s+outlook\s+(pour|for|sur|on)\s+.{0,40}"
    r")\s*$", re.IGNORECASE)
_SEPARATOR = re.compile(r"^\s*[-_=*]{2,}\s*$")


def _drop_device_footer(text: str) -> str:
    """Trailing device footers (and the separator lines around them) removed; the author's
    signature above them is kept."""
    lines = text.split("\n")
    end = len(lines)
    while end and (not lines[end - 1].strip() or _SEPARATOR.match(lines[end - 1])
                   or (len(lines[end - 1]) <= 100 and _DEVICE_FOOTER.match(lines[end - 1]))):
        end -= 1
    return "\n".join(lines[:end]).strip()


# « Le jeu. 26 nov. 2026 à 09:00, X <x@y> a écrit : » — sometimes wrapped over two lines.
_ATTRIBUTION = re.compile(r"^\s*(le|on)\s.{0,300}?(a\s+[ée]crit|wrote)\s*:?\s*$", re.IGNORECASE | re.DOTALL)
_ORIGINAL_MESSAGE = re.compile(
    r"^\s*(-{2,}\s*(original message|message d'origine|message original|message transf[ée]r[ée])\s*-{2,}"
    r"|(de|from)\s*:\s.*@.*)\s*$", re.IGNORECASE)


def _cut_history(text: str) -> str:
    """Drop everything from the attribution line or the original-message marker on, then any
    remaining ``>`` quoted line: only what the author wrote is relayed."""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        two_lines = f"{line} {lines[index + 1]}" if index + 1 < len(lines) else line
        if _ORIGINAL_MESSAGE.match(line) or _ATTRIBUTION.match(line) or (
            re.match(r"^\s*(le|on)\s", line, re.IGNORECASE) and _ATTRIBUTION.match(two_lines)
        ):
            lines = lines[:index]
            break
    return "\n".join(line for line in lines if not line.lstrip().startswith(">")).strip()


def strip_reply(text: str) -> str:
    """The new part of a reply: quoted history and device footers removed (our own cut of the French
    and English attribution lines and quotes, then mail-parser-reply for the other history formats).
    The author's sign-off and signature block (name, role, lycée, phone) are kept: the other side
    needs to know who wrote and how to call back. Empty when the reply holds nothing new."""
    text = _cut_history(text.replace("\r\n", "\n"))
    if not text:
        return ""
    parsed = EmailReplyParser(languages=["fr", "en"]).read(text)
    body = ""
    if parsed.replies:
        body = (parsed.replies[0].content or "").strip()  # content = body + signature
    if not body:
        body = (parsed.latest_reply or "").strip()
    return _drop_device_footer(body)


@dataclass(frozen=True)
class Dropped:
    """An attachment not relayed: its cleaned name and why (a key of ``attachment_rules.REASONS``)."""

    name: str
    reason: str

    def label(self) -> str:
        return f"{self.name} ({attachment_rules.REASONS[self.reason]})"


def attachments(msg: EmailMessage, limit: int) -> tuple[list[Attachment], list[Dropped]]:
    """The attachments that may be relayed (documents and images, recognised by content, renamed
    safely, within ``limit`` bytes in all) and the ones dropped, with their reason."""
    kept: list[Attachment] = []
    dropped: list[Dropped] = []
    used = 0
    for part in msg.iter_attachments():
        try:
            declared = part.get_filename() or ""
        except Exception:
            declared = ""
        name = attachment_rules.clean_name(declared)
        if undecodable(part):
            dropped.append(Dropped(name, "undecodable"))
            continue
        try:
            payload = part.get_payload(decode=True)  # bytes, or None for a multipart part
            data = payload if isinstance(payload, bytes) else b""
            kind = attachment_rules.sniff(data, declared)
        except attachment_rules.Refused as refused:
            dropped.append(Dropped(name, refused.reason))
            continue
        except Exception:
            dropped.append(Dropped(name, "type"))
            continue
        if used + len(data) > limit:
            dropped.append(Dropped(name, "size"))
            continue
        used += len(data)
        kept.append(Attachment(filename=attachment_rules.safe_filename(declared, kind), content_type=kind.content_type,
                               data=data))
    return kept, dropped


def message_key(msg: EmailMessage, raw: bytes) -> str:
    """What makes two receptions the same message: its Message-ID, or when it has none (or an
    unreadable one) its raw bytes. Hashed: bounded length, nothing personal stored."""
    try:
        message_id = " ".join(str(msg.get("Message-ID", "") or "").split())
    except Exception:
        message_id = ""
    if message_id:
        return "mid:" + hashlib.sha256(message_id.encode("utf-8", "surrogateescape")).hexdigest()
    return "raw:" + hashlib.sha256(raw).hexdigest()


def process(session: Session, ctx: NotifierContext, inbound: InboundEmail) -> str:
    """Decide what one stored inbound message is, and act on it. Returns the outcome."""
    s = ctx.settings
    target = verify_reply_address(s.secret_key, s.reply_domain, inbound.rcpt)
    thread: Thread | None = repo.thread_by_token(session, target.thread_token) if target else None
    if thread is not None:  # before reading its participants: a reminder pass may be deciding on them
        thread = repo.lock_thread(session, thread.id)
    person = repo.participant_by_token(session, thread.id, target.participant_token) if thread and target else None
    if thread is None or person is None or thread.erased:
        return _finish(session, ctx, inbound, "malformed")
    if thread.correlation_id:
        # Log the reply and its relays under the request's correlation id (form -> last email).
        structlog.contextvars.bind_contextvars(correlation_id=thread.correlation_id)
    inbound.thread_id, inbound.participant_id = thread.id, person.id
    try:
        msg = parse(inbound.raw)
        bounce = is_bounce(msg, inbound.mail_from)
    except Exception:
        return _finish(session, ctx, inbound, "malformed")
    if not msg.get("From"):
        # Every mail client writes a From header: without one this is not a human reply.
        return _finish(session, ctx, inbound, "malformed")
    if bounce:
        person.failing = True
        session.add(person)
        metrics.EMAILS_BOUNCED.inc()
        return _finish(session, ctx, inbound, "bounce")
    if is_auto_reply(msg):
        return _finish(session, ctx, inbound, "auto_reply")
    auth = None
    if s.inbound_auth_checks:
        connection = senders.auth_of(inbound)
        auth = authenticate(inbound.raw, msg, inbound.mail_from, str(connection.get("client_ip") or ""),
                            str(connection.get("helo") or ""), ctx.dns(), s.inbound_dns_timeout_s)
        inbound.auth = json.dumps({**connection, **auth.as_dict()}, ensure_ascii=False)
    try:
        if repo.already_relayed(session, thread.id, message_key(msg, inbound.raw)):
            return _finish(session, ctx, inbound, "duplicate")  # whoever sends it again
    except Exception:
        return _finish(session, ctx, inbound, "malformed")
    judgement = senders.judge(session, ctx, thread, person, msg, inbound.mail_from, auth)
    if not judgement.relay:
        senders.hold(session, ctx, thread, person, inbound, msg, judgement)
        return _finish(session, ctx, inbound, "held")
    return deliver(session, ctx, thread, person, inbound, msg, judgement.label)


def deliver(session: Session, ctx: NotifierContext, thread: Thread, person: Participant, inbound: InboundEmail,
            msg: EmailMessage, label: str | None = None) -> str:
    """Relay a reply judged to come from ``person`` (or released by them): strip it, check its
    attachments, once per thread and message. ``label``: how the reply names its author when it
    was written from another address than the participant's."""
    s = ctx.settings
    try:
        part, spoiled = body_part(msg)
        text = strip_reply(body_text(msg, part)) if part is not None else ""
        kept, dropped = attachments(msg, s.attachment_max_bytes)
    except Exception:
        return _finish(session, ctx, inbound, "malformed")
    # Handled once per thread and message: the same message in one transaction to several RCPTs
    # (case variants of an address) or sent again is stored, but not relayed (nor answered) again.
    key = message_key(msg, inbound.raw)
    if repo.already_relayed(session, thread.id, key):
        return _finish(session, ctx, inbound, "duplicate")
    for item in dropped:
        metrics.ATTACHMENTS_DROPPED.labels(item.reason).inc()
    if not text and not kept:
        if spoiled or any(d.reason == "undecodable" for d in dropped):
            # Nothing decodable remains: not an answer. Kept raw with its outcome, for review.
            return _finish(session, ctx, inbound, "undecodable")
        if dropped:  # only attachments, none of them relayable: the sender is told why
            repo.mark_relayed(session, thread.id, key, inbound.id)
            notify_dropped(session, ctx, thread, person, inbound, dropped, relayed=False)
            return _finish(session, ctx, inbound, "refused_attachments")
        return _finish(session, ctx, inbound, "malformed")
    repo.mark_relayed(session, thread.id, key, inbound.id)
    relay_reply(session, ctx, thread, person, inbound, text[:20_000], kept, dropped, label=label)
    return _finish(session, ctx, inbound, "accepted")


def notify_dropped(session: Session, ctx: NotifierContext, thread: Thread, author: Participant, inbound: InboundEmail,
                   dropped: list[Dropped], *, relayed: bool) -> None:
    """Tell the author, in a short notice of the thread, which attachments were not passed on and why
    (even if the address bounced once or left the thread: they just wrote from it)."""
    labels = [d.label() for d in dropped]
    text = ("Votre message a bien été transmis, sans ces pièces jointes : " if relayed else
            "Votre message n'a pas été transmis : il ne contenait que des pièces jointes non acceptées : ")
    text += ", ".join(labels) + "."
    entry = new_entry(session, thread, "notice", text=text, inbound_id=inbound.id, at=ctx.now())
    queue_copy(session, ctx, thread, entry, author, "notice", notice="attachments_dropped", text=text,
               dropped=labels, relayed=relayed)


def relay_reply(session: Session, ctx: NotifierContext, thread: Thread, author: Participant, inbound: InboundEmail,
                text: str, kept: list[Attachment], dropped: list[Dropped], *, label: str | None = None) -> None:
    now = ctx.now()
    entry = new_entry(session, thread, "reply", author=author, text=text, inbound_id=inbound.id, at=now)
    company_copy = None
    for person in repo.participants(session, thread.id, active_only=True):
        if person.id == author.id:
            continue
        row = queue_copy(session, ctx, thread, entry, person, "relay", author_label=label or author_label(author), text=text,
                         attachments=kept, dropped=[d.label() for d in dropped])
        if person.role == "company":
            company_copy = row
    publish_thread_message(session, ctx, thread, entry, "reply", author=author, text=text,
                           message_id=company_copy.message_id if company_copy else None)
    if dropped:
        notify_dropped(session, ctx, thread, author, inbound, dropped, relayed=True)
    if author.role in ("lead", "copy"):
        if thread.first_answer_at is None:
            thread.first_answer_at = now
            metrics.FIRST_ANSWER_SECONDS.observe(max(0.0, (now - thread.routed_at).total_seconds()))
            session.add(thread)
        if author.status in ("pending", "accepted"):
            author.status = "answered"
            session.add(author)
            publish_assignment(session, thread, author, "answered", note="Première réponse par courriel")


def _finish(session: Session, ctx: NotifierContext, inbound: InboundEmail, outcome: str) -> str:
    inbound.outcome = outcome
    inbound.processed_at = ctx.now()
    session.add(inbound)
    session.flush()
    metrics.INBOUND_MESSAGES.labels(outcome).inc()
    return outcome
