"""What a contact does with its invitation: opens the link (the form, pre-filled), submits a request
(attributed to the campaign), unsubscribes. Functions take a Session; none of them commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from services.intake.campaigns import repository
from services.intake.campaigns.tokens import CampaignTokens
from services.intake.service.form import JOB_SLOTS
from shared.contracts.events import RequestSource


@dataclass(frozen=True)
class Invited:
    contact_id: int
    source: RequestSource


def invited(session: Session, tokens: CampaignTokens, token: str) -> Invited | None:
    """Who a genuine invitation token stands for, and the attribution of its requests; None for a
    forged or tampered token, or a contact erased since (the request is then a plain form request)."""
    contact_id = tokens.invitation_contact(token)
    if contact_id is None:
        return None
    contact = repository.contact(session, contact_id)
    if contact is None or contact.erased_at is not None:
        return None
    campaign = repository.campaign(session, contact.campaign_id)
    if campaign is None:
        return None
    return Invited(contact_id, RequestSource(kind="campaign", campaign=campaign.id, partner=campaign.partner))


def open_invitation(session: Session, tokens: CampaignTokens, token: str, now: datetime) -> dict | None:
    """The form's values pre-filled from the file (first opening recorded); None if the link is not valid."""
    who = invited(session, tokens, token)
    if who is None:
        return None
    contact = repository.contact(session, who.contact_id)
    assert contact is not None
    repository.mark_opened(session, who.contact_id, now)
    place = f"{contact.commune_name} ({contact.postal_code})" if contact.postal_code else (contact.commune_name or "")
    return {
        "entreprise": contact.company_name or "", "nom": contact.contact_name or "", "email": contact.contact_email or "",
        "siret": contact.siret or "", "naf": contact.naf or "", "lieu": place,
        "commune_insee": contact.commune_insee or "", "metiers": list(contact.jobs or [])[:JOB_SLOTS],
        "rayon_km": "30", "besoins": [], "invitation": token,
    }


def submitted(session: Session, contact_id: int, request_id: str, now: datetime) -> None:
    repository.link_request(session, contact_id, request_id, now)


def unsubscribe(session: Session, tokens: CampaignTokens, token: str, now: datetime) -> bool | None:
    """Record the address's hash (forever) and erase the contact; None for an invalid token,
    False if the address had already unsubscribed."""
    wanted = tokens.unsubscribe_of(token)
    if wanted is None:
        return None
    new = repository.add_unsubscribed(session, wanted.address_hash, now)
    contact = repository.contact(session, wanted.contact_id)
    if contact is not None and contact.contact_email and tokens.hash(contact.contact_email) == wanted.address_hash:
        repository.erase_contacts(session, [wanted.contact_id], "unsubscribed", now)
    return new
