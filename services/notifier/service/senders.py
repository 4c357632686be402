"""Replies from another address: who may speak for a participant, and what happens to the others.

The reply address names the participant (lead RBE, copy RBE, company, fallback). A reply whose
``From:`` is another address is:

* **relayed as that participant**, with the real sender's name shown, when the sender belongs to
  the same organisation (same organisational domain as the participant's address: the lead email
  went to ``ce.0690001a@ac-lyon.fr`` and ``marie.dubois@ac-lyon.fr`` answers; a colleague at the
  company's domain). Webmail domains (gmail.com, orange.fr, free.fr, hotmail.*…) say nothing about
  an organisation: there the address must match;
* relayed when the participant vouched for that sender in this thread (« Transmettre quand même »);
* otherwise **held**: stored with outcome ``held``, counted in ``mlp_inbound_held_total{reason}``,
  listed in the admin review list; the sender gets a French explanation of how to answer, and the
  participant whose address was used a French notice with a signed « Transmettre quand même » link.

A message failing the authentication checks (``service/authentication.py``: a DKIM signature that
does not verify, ``From:`` not aligned with the envelope, SPF fail) is held too, whatever its
``From:``; its claimed sender is not written to (the address is probably forged: no backscatter).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr

from sqlmodel import Session

from services.notifier import metrics
from services.notifier import repository as repo
from services.notifier.models import ActionUse, InboundEmail, Participant, Thread, id_tail
from services.notifier.service.addresses import (
    ActionTokenError,
    ReleaseClaim,
    make_release_token,
    read_release_token,
)
from services.notifier.service.authentication import AuthResult, domain_of, header_from, org_domain
from services.notifier.service.emails import OutgoingCopy, compose
from services.notifier.service.mailer import NotifierContext, author_label, new_entry, queue_copy
from shared.platform.clock import utcnow
from shared.platform.logging import current_correlation_id

# Domains where "same domain" means nothing: webmail and consumer ISPs. A pattern ending in "."
# stands for every top-level domain (hotmail.fr, hotmail.com…).
_WEBMAIL = frozenset({
    "gmail.com", "googlemail.com", "orange.fr", "wanadoo.fr", "free.fr", "laposte.net", "sfr.fr", "neuf.fr",
    "club-internet.fr", "bbox.fr", "numericable.fr", "aliceadsl.fr", "cegetel.net", "aol.com", "aol.fr",
    "icloud.com", "me.com", "mac.com", "protonmail.com", "proton.me", "pm.me", "gmx.fr", "gmx.com", "gmx.de",
    "gmx.net", "mail.com", "yandex.com", "yandex.ru", "zoho.com", "tutanota.com", "tuta.io", "netcourrier.com",
    "mailo.com", "ymail.com", "rocketmail.com", "libertysurf.fr", "tiscali.fr", "nordnet.fr", "voila.fr",
})
_WEBMAIL_PREFIXES = ("hotmail.", "outlook.", "live.", "msn.", "yahoo.", "windowslive.")

HOLD_REASONS = ("unknown_sender", "dkim_fail", "spf_fail", "misaligned")


def is_webmail(domain: str) -> bool:
    domain = domain.strip().lower().rstrip(".")
    org = org_domain(domain)
    return domain in _WEBMAIL or org in _WEBMAIL or org.startswith(_WEBMAIL_PREFIXES)


def same_organisation(sender: str, participant: str) -> bool:
    """Same organisational domain, and not a webmail one."""
    a, b = domain_of(sender), domain_of(participant)
    if not a or not b or is_webmail(a) or is_webmail(b):
        return False
    return org_domain(a) == org_domain(b)


def sender_hash(secret: str, address: str) -> str:
    return hmac.new(secret.encode(), f"sender:{address.strip().lower()}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Judgement:
    relay: bool
    reason: str = ""  # why held: a HOLD_REASONS value
    sender: str = ""  # the From address (lower-case), "" when none readable
    label: str | None = None  # how the relayed reply names its author, when not the participant itself


def sender_display(msg: EmailMessage, address: str) -> str:
    try:
        name = parseaddr(str(msg.get("From", "")))[0].strip()
    except Exception:
        name = ""
    name = " ".join(name.split())[:100]
    return f"{name} ({address})" if name and name.lower() != address else address


def judge(session: Session, ctx: NotifierContext, thread: Thread, person: Participant, msg: EmailMessage,
          mail_from: str, auth: AuthResult | None) -> Judgement:
    expected = person.email.strip().lower()
    sender = header_from(msg)
    if not sender:  # several addresses, or none readable: judged on the envelope
        froms = {a.lower() for _, a in getaddresses([str(msg.get("From", ""))]) if a}
        sender = expected if expected in froms else mail_from.strip().strip("<>").lower()
    if auth is not None and auth.verdict == "fail":
        return Judgement(False, auth.reason, sender)
    if sender == expected:
        return Judgement(True, sender=sender)
    label = f"{sender_display(msg, sender)}, pour {author_label(person)}"
    if same_organisation(sender, expected):
        return Judgement(True, sender=sender, label=label)
    if repo.vouched(session, thread.id, person.id, sender_hash(ctx.settings.secret_key, sender)):
        return Judgement(True, sender=sender, label=label)
    return Judgement(False, "unknown_sender", sender)


def release_url(ctx: NotifierContext, inbound: InboundEmail) -> str:
    return f"{ctx.settings.notifier_url.rstrip('/')}/relais/{make_release_token(ctx.settings.secret_key, inbound.id)}"


def hold(session: Session, ctx: NotifierContext, thread: Thread, person: Participant, inbound: InboundEmail,
         msg: EmailMessage, judgement: Judgement) -> None:
    """Quarantine: kept raw with its reason, counted, and both sides told (the claimed sender only
    when the message is authentic: a forged address is not written to)."""
    inbound.hold_reason = judgement.reason
    metrics.INBOUND_HELD.labels(judgement.reason).inc()
    sender = judgement.sender
    shown = sender_display(msg, sender) if sender else "une adresse inconnue"
    if judgement.reason == "unknown_sender":
        text = (f"Un message pour cette demande est arrivé à votre adresse de réponse depuis une autre adresse : "
                f"{shown}. Nous ne pouvons pas vérifier qu'il vient de vous : il n'a pas été transmis.")
    else:
        text = (f"Un message pour cette demande, envoyé au nom de {shown}, n'a pas passé les vérifications "
                "d'authenticité de la messagerie (il peut s'agir d'une usurpation d'adresse) : il n'a pas été "
                "transmis.")
    text += (" Si vous connaissez l'expéditeur et souhaitez que son message soit transmis aux autres participants, "
             "utilisez le lien « Transmettre quand même » ci-dessous.")
    entry = new_entry(session, thread, "notice", text=text, inbound_id=inbound.id, at=ctx.now())
    queue_copy(session, ctx, thread, entry, person, "notice", notice="held", text=text,
               release_url=release_url(ctx, inbound))
    if judgement.reason == "unknown_sender" and sender and "@" in sender:
        _explain_to_sender(session, ctx, thread, person, inbound, sender)


def _explain_to_sender(session: Session, ctx: NotifierContext, thread: Thread, person: Participant,
                       inbound: InboundEmail, sender: str) -> None:
    """A short French explanation to whoever wrote from another address. Its row belongs to no
    participant (``participant_id`` = the held message's id): it never threads with their copies."""
    s = ctx.settings
    text = ("Votre message n'a pas été transmis : il a été envoyé depuis une adresse différente de celle qui a reçu "
            "notre courriel.")
    entry = new_entry(session, thread, "notice", text=text, inbound_id=inbound.id, at=ctx.now())
    session.flush()
    message_id = f"<{id_tail(entry.id)}.held.{thread.token}@{s.reply_domain}>"
    no_reply = parseaddr(s.mail_from)[1]
    raw = compose(OutgoingCopy(
        to_email=sender, to_name=None, mail_from=s.mail_from, reply_to=no_reply, subject=thread.subject,
        message_id=message_id, references=[thread.root_message_id], list_id=s.list_id, template="held_sender",
        context={"thread": thread, "recipient": None, "participant_label": author_label(person),
                 "company": person.role == "company"},
        date=ctx.now(), attachments=[],
    ))
    now = ctx.now()
    repo.insert_outbound(session, [{
        "thread_id": thread.id, "entry_id": entry.id, "participant_id": inbound.id, "kind": "notice",
        "to_email": sender, "envelope_from": no_reply, "correlation_id": current_correlation_id(),
        "message_id": message_id, "raw": raw, "status": "pending", "attempts": 0, "next_attempt_at": now,
        "lease_until": None, "last_error": None, "sent_at": None, "created_at": utcnow()}])


def auth_of(inbound: InboundEmail) -> dict:
    try:
        value = json.loads(inbound.auth or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# ------------------------------------------------------------------ « Transmettre quand même »
class ReleaseRefused(Exception):
    """reason: invalid | expired | used | erased | gone (no longer held: already relayed by another link)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class PendingRelease:
    claim: ReleaseClaim
    inbound: InboundEmail
    thread: Thread
    participant: Participant

    @property
    def sender(self) -> str:
        try:
            return header_from(parse_message(self.inbound.raw)) or "une autre adresse"
        except Exception:
            return "une autre adresse"


def check_release(session: Session, ctx: NotifierContext, token: str) -> PendingRelease:
    """Validate a release link without changing anything (GET, or a mail scanner prefetching it)."""
    try:
        claim = read_release_token(ctx.settings.secret_key, token, ctx.settings.action_ttl_days * 86400)
    except ActionTokenError as exc:
        raise ReleaseRefused(exc.reason) from exc
    if repo.action_used(session, claim.nonce):
        raise ReleaseRefused("used")
    inbound = repo.inbound(session, claim.inbound_id)
    thread = repo.thread(session, inbound.thread_id) if inbound and inbound.thread_id else None
    person = repo.participant(session, inbound.participant_id) if inbound and inbound.participant_id else None
    if inbound is None or thread is None or person is None:
        raise ReleaseRefused("invalid")
    if thread.erased:
        raise ReleaseRefused("erased")
    if inbound.outcome != "held":
        raise ReleaseRefused("gone")
    return PendingRelease(claim, inbound, thread, person)


def release(session: Session, ctx: NotifierContext, token: str) -> tuple[PendingRelease, str]:
    """POST: relay the held message once, as the participant whose address was used, and vouch for
    its sender in this thread (their later replies to that address are relayed). Returns the outcome
    of the relay (accepted, or duplicate / refused_attachments… as for any reply)."""
    try:
        claim = read_release_token(ctx.settings.secret_key, token, ctx.settings.action_ttl_days * 86400)
        row = repo.inbound(session, claim.inbound_id)
        if row is not None and row.thread_id:
            repo.lock_thread(session, row.thread_id)
    except ActionTokenError:
        pass  # check_release says why
    pending = check_release(session, ctx, token)
    repo.add(session, ActionUse(nonce=pending.claim.nonce, participant_id=pending.participant.id, action="release"))
    return pending, relay_held(session, ctx, pending.inbound, pending.thread, pending.participant)


def relay_held(session: Session, ctx: NotifierContext, inbound: InboundEmail, thread: Thread, person: Participant) -> str:
    """Relay a held message as ``person`` (whose address it was sent to) and vouch for its sender in the
    thread. The caller has locked the thread and checked the message is still held."""
    from services.notifier.service.inbound import deliver, parse  # inbound imports this module

    msg = parse(inbound.raw)
    sender = header_from(msg)
    label = None
    if sender and sender != person.email.strip().lower():
        repo.vouch(session, thread.id, person.id, sender_hash(ctx.settings.secret_key, sender))
        label = f"{sender_display(msg, sender)}, pour {author_label(person)}"
    inbound.released_at = ctx.now()
    inbound.outcome = "received"  # deliver() sets the outcome of the relay
    metrics.INBOUND_RELEASED.inc()
    return deliver(session, ctx, thread, person, inbound, msg, label)


def parse_message(raw: bytes) -> EmailMessage:
    from services.notifier.service.inbound import parse

    return parse(raw)
