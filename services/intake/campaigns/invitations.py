"""Who of a campaign is invited, and the invitation itself.

``prepare`` writes one ``pending`` invitation row per contact to invite (pilot académies only,
unless ``all_academies``; never an unsubscribed address), in the caller's transaction; the unique
key on the contact makes it idempotent. ``InvitationComposer`` is the ``compose`` of the mailing
(``shared.platform.mailing``): it reads the contact when its row is leased, so an address that
unsubscribed or was erased since ``prepare`` is cancelled, not sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import Connection, Row, select
from sqlmodel import Session

from services.intake.campaigns import repository
from services.intake.campaigns.models import Campaign, CampaignContact, Unsubscribed
from services.intake.campaigns.pilot import in_pilot
from services.intake.campaigns.tokens import CampaignTokens
from shared.platform.clock import utcnow
from shared.platform.db import table_of
from shared.platform.mailing import Cancel, Outgoing

TEMPLATES = Path(__file__).parent / "templates"
_ENV = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                   undefined=StrictUndefined, keep_trailing_newline=True)
PARTNER_LABELS = {
    "les-entreprises-s-engagent": "Les Entreprises s'Engagent",
    "lees": "Les Entreprises s'Engagent",
    "conseillers-entreprises": "Conseillers-Entreprises",
    "immersion-facilitee": "Immersion Facilitée",
}
_CONTACTS = table_of(CampaignContact)
_CAMPAIGNS = table_of(Campaign)
_UNSUBSCRIBED = table_of(Unsubscribed)


def partner_label(slug: str | None) -> str | None:
    """How the invitation names the partner who gave the file."""
    if not slug:
        return None
    return PARTNER_LABELS.get(slug, slug)


def mail_domain(mail_from: str) -> str:
    return parseaddr(mail_from)[1].rpartition("@")[2] or "monlyceepro.localhost"


def message_id(campaign_id: str, contact_id: int, domain: str) -> str:
    """Unique (the contact id is) and short enough for one header line (a folded one trips some tools)."""
    return f"<invitation.{contact_id}.{campaign_id[:12]}@{domain}>"


@dataclass(frozen=True)
class Prepared:
    created: int  # invitation rows written now
    outside_pilot: int  # contacts left uninvited: their académie is not in the pilot
    unsubscribed: int  # contacts erased now: their address unsubscribed since the import


def prepare(session: Session, campaign: Campaign, *, pilot: frozenset[str], all_academies: bool,
            address_hash: Callable[[str], str], domain: str) -> Prepared:
    now = utcnow()
    rows: list[dict[str, object]] = []
    outside = 0
    contacts = repository.contacts_without_invitation(session, campaign.id)
    hashes = {c.id: address_hash(c.contact_email) for c in contacts if c.contact_email}
    unsubscribed = repository.unsubscribed(session, hashes.values())
    gone = [c.id for c in contacts if c.id is not None and hashes.get(c.id) in unsubscribed]
    for contact in contacts:
        if contact.id in gone or contact.id is None:
            continue
        if not all_academies and not in_pilot(contact.academie, pilot):
            outside += 1
            continue
        rows.append({"mailing": campaign.id, "contact_id": contact.id, "to_email": contact.contact_email,
                     "message_id": message_id(campaign.id, contact.id, domain), "status": "pending", "attempts": 0,
                     "next_attempt_at": now, "lease_until": None, "lease_owner": None, "sent_at": None,
                     "last_error": None, "created_at": now})
    repository.erase_contacts(session, [i for i in gone if i is not None], "unsubscribed", now)
    repository.insert_invitations(session, rows)
    return Prepared(len(rows), outside, len(gone))


class InvitationComposer:
    """``compose`` of the campaign's mailing: the personal message of one leased invitation row."""

    def __init__(self, tokens: CampaignTokens, *, base_url: str, mail_from: str, retention_days: int) -> None:
        self.tokens = tokens
        self.base_url = base_url.rstrip("/")
        self.mail_from = mail_from
        self.retention_months = max(1, round(retention_days / 30.4))

    def __call__(self, conn: Connection, row: Row) -> Outgoing | Cancel:
        contact = conn.execute(select(_CONTACTS).where(_CONTACTS.c.id == row.contact_id)).first()
        if contact is None or contact.erased_at is not None or not contact.contact_email:
            return Cancel("contact supprimé avant l'envoi")
        address_hash = self.tokens.hash(contact.contact_email)
        if conn.execute(select(_UNSUBSCRIBED.c.address_hash).where(_UNSUBSCRIBED.c.address_hash == address_hash)).first():
            repository.erase_contacts(conn, [contact.id], "unsubscribed", utcnow())
            return Cancel("adresse désinscrite avant l'envoi")
        campaign = conn.execute(select(_CAMPAIGNS).where(_CAMPAIGNS.c.id == contact.campaign_id)).one()
        message = self.message(contact, campaign.partner, row.message_id)
        return Outgoing(sender=parseaddr(self.mail_from)[1], recipient=contact.contact_email,
                        raw=message.as_bytes(policy=policy.SMTP))

    def message(self, contact, partner: str | None, message_id: str) -> EmailMessage:
        link = f"{self.base_url}/invitation/{self.tokens.invitation(contact.id)}"
        unsubscribe = f"{self.base_url}/desinscription/{self.tokens.unsubscribe(contact.id, contact.contact_email)}"
        context = {
            "contact_name": contact.contact_name, "company_name": contact.company_name, "siret": contact.siret,
            "commune": f"{contact.postal_code} {contact.commune_name}" if contact.postal_code else contact.commune_name,
            "partner": partner_label(partner), "link": link, "unsubscribe": unsubscribe,
            "privacy": f"{self.base_url}/confidentialite", "retention_months": self.retention_months,
        }
        msg = EmailMessage()
        msg["From"] = self.mail_from
        msg["To"] = formataddr((contact.contact_name or "", contact.contact_email))
        msg["Subject"] = f"{contact.company_name} : accueillir des élèves de lycée professionnel"
        msg["Date"] = format_datetime(utcnow())
        msg["Message-ID"] = message_id
        # RFC 2369 and RFC 8058: the mail client offers « Se désabonner » and POSTs to this address.
        msg["List-Unsubscribe"] = f"<{unsubscribe}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg.set_content(_ENV.get_template("invitation.txt").render(context))
        msg.add_alternative(_ENV.get_template("invitation.html").render(context), subtype="html")
        return msg

