"""All SQL of the campaigns. Functions take a Session; none of them commits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection, func, insert, update
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from services.intake.campaigns.models import Campaign, CampaignContact, CampaignInvitation, Unsubscribed
from services.intake.models import CompanyRequest
from shared.platform.db import table_of

CHUNK = 500  # IN lists are cut to this size (SQLite's variable limit, plan size)
_CONTACTS = table_of(CampaignContact)
_INVITATIONS = table_of(CampaignInvitation)
_REQUESTS = table_of(CompanyRequest)
_CAMPAIGNS = table_of(Campaign)


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    items = sorted(set(values))
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


# ------------------------------------------------------------- campaigns
def campaign_by_name(session: Session, name: str) -> Campaign | None:
    return session.exec(select(Campaign).where(Campaign.name == name)).first()


def campaign(session: Session, campaign_id: str) -> Campaign | None:
    return session.get(Campaign, campaign_id)


def all_campaigns(session: Session) -> list[Campaign]:
    return list(session.exec(select(Campaign).order_by(col(Campaign.created_at), col(Campaign.name))).all())


def add_campaign(session: Session, item: Campaign) -> None:
    session.add(item)
    session.flush()


# ------------------------------------------------------------- what an import checks against
def imported_sirets(session: Session, sirets: Iterable[str]) -> dict[str, str]:
    """SIRET -> name of the campaign that already imported it (erased contacts hold none)."""
    found: dict[str, str] = {}
    for chunk in _chunks(sirets):
        rows = session.execute(select_columns(_CONTACTS.c.siret, _CAMPAIGNS.c.name)
                               .join(_CAMPAIGNS, _CAMPAIGNS.c.id == _CONTACTS.c.campaign_id)
                               .where(_CONTACTS.c.siret.in_(chunk)))
        found.update({siret: name for siret, name in rows})
    return found


def imported_emails(session: Session, emails: Iterable[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in _chunks(emails):
        rows = session.execute(select_columns(_CONTACTS.c.contact_email, _CAMPAIGNS.c.name)
                               .join(_CAMPAIGNS, _CAMPAIGNS.c.id == _CONTACTS.c.campaign_id)
                               .where(_CONTACTS.c.contact_email.in_(chunk)))
        found.update({email: name for email, name in rows})
    return found


def served_sirets(session: Session, sirets: Iterable[str]) -> set[str]:
    """SIRETs of companies that already submitted a request (kept, i.e. not anonymised)."""
    found: set[str] = set()
    for chunk in _chunks(sirets):
        found.update(session.execute(select_columns(_REQUESTS.c.siret).where(_REQUESTS.c.siret.in_(chunk))).scalars())
    return found


def served_emails(session: Session, emails: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(emails):
        found.update(session.execute(select_columns(_REQUESTS.c.contact_email)
                                     .where(_REQUESTS.c.contact_email.in_(chunk))).scalars())
    return found


def unsubscribed(session: Session, hashes: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(hashes):
        found.update(session.execute(select_columns(table_of(Unsubscribed).c.address_hash)
                                     .where(table_of(Unsubscribed).c.address_hash.in_(chunk))).scalars())
    return found


def is_unsubscribed(session: Session, address_hash: str) -> bool:
    return session.get(Unsubscribed, address_hash) is not None


def insert_contacts(session: Session, rows: Sequence[dict[str, object]]) -> None:
    if rows:
        session.execute(insert(_CONTACTS), list(rows))


# ------------------------------------------------------------- contacts
def contact(session: Session, contact_id: int) -> CampaignContact | None:
    return session.get(CampaignContact, contact_id)


def contacts_without_invitation(session: Session, campaign_id: str) -> list[CampaignContact]:
    """The campaign's contacts still to invite (not erased, no invitation row yet), in file order."""
    query = (select(CampaignContact)
             .where(CampaignContact.campaign_id == campaign_id, col(CampaignContact.erased_at).is_(None),
                    col(CampaignContact.contact_email).is_not(None),
                    ~col(CampaignContact.id).in_(select_columns(_INVITATIONS.c.contact_id)))
             .order_by(col(CampaignContact.line)))
    return list(session.exec(query).all())


def insert_invitations(session: Session, rows: Sequence[dict[str, object]]) -> None:
    if rows:
        session.execute(insert(_INVITATIONS), list(rows))


def mark_opened(session: Session, contact_id: int, now: datetime) -> None:
    session.execute(update(_CONTACTS).where(_CONTACTS.c.id == contact_id, _CONTACTS.c.opened_at.is_(None))
                    .values(opened_at=now))


def link_request(session: Session, contact_id: int, request_id: str, now: datetime) -> None:
    """The first request submitted through the contact's link (later ones stay attributed to the campaign)."""
    session.execute(update(_CONTACTS).where(_CONTACTS.c.id == contact_id, _CONTACTS.c.request_id.is_(None))
                    .values(request_id=request_id, submitted_at=now))
    # Opening is implied: a request cannot come through the link unopened (a link prefetch may have failed).
    session.execute(update(_CONTACTS).where(_CONTACTS.c.id == contact_id, _CONTACTS.c.opened_at.is_(None))
                    .values(opened_at=now))


def add_unsubscribed(session: Session, address_hash: str, now: datetime) -> bool:
    """False when the address had already unsubscribed."""
    if session.get(Unsubscribed, address_hash) is not None:
        return False
    session.add(Unsubscribed(address_hash=address_hash, unsubscribed_at=now))
    session.flush()
    return True


PERSONAL_FIELDS: dict[str, object] = {"siret": None, "company_name": None, "contact_name": None, "contact_email": None,
                   "postal_code": None, "commune_insee": None, "commune_name": None, "naf": None, "jobs": []}


def erase_contacts(session: Session | Connection, contact_ids: Sequence[int], reason: str, now: datetime) -> None:
    """The contacts' personal fields (and their invitations' address) are erased; pending
    invitations are cancelled. Académie, dates and the link to a request stay for the figures."""
    if not contact_ids:
        return
    ids = list(contact_ids)
    session.execute(update(_CONTACTS).where(_CONTACTS.c.id.in_(ids), _CONTACTS.c.erased_at.is_(None))
                    .values(**PERSONAL_FIELDS, erased_at=now, erasure_reason=reason))
    session.execute(update(_INVITATIONS).where(_INVITATIONS.c.contact_id.in_(ids), _INVITATIONS.c.status == "pending")
                    .values(status="cancelled", last_error=f"contact supprimé ({reason})"))
    session.execute(update(_INVITATIONS).where(_INVITATIONS.c.contact_id.in_(ids)).values(to_email=None))


def expired_contact_ids(session: Session, before: datetime, limit: int) -> list[int]:
    """Contacts not erased whose last invitation (or import, when never invited) is older than ``before``."""
    last_sent = (select_columns(_INVITATIONS.c.contact_id, func.max(_INVITATIONS.c.sent_at).label("sent_at"))
                 .group_by(_INVITATIONS.c.contact_id).subquery("last_sent"))
    last = func.coalesce(last_sent.c.sent_at, _CONTACTS.c.imported_at)
    query = (select_columns(_CONTACTS.c.id)
             .select_from(_CONTACTS.outerjoin(last_sent, last_sent.c.contact_id == _CONTACTS.c.id))
             .where(_CONTACTS.c.erased_at.is_(None), last < before)
             .order_by(_CONTACTS.c.id).limit(limit))
    return list(session.execute(query).scalars())


# ------------------------------------------------------------- figures
def funnel_rows(session: Session, campaign_id: str | None) -> list[tuple]:
    """Per contact: campaign id, académie, invited (sent), opened, submitted, answered."""
    invited = _INVITATIONS.c.status.in_(("sent", "uncertain"))  # uncertain: most likely received
    query = (select_columns(
        _CONTACTS.c.campaign_id, _CONTACTS.c.academie, invited.label("invited"),
        _CONTACTS.c.opened_at.is_not(None).label("opened"), _CONTACTS.c.request_id.is_not(None).label("submitted"),
        _REQUESTS.c.first_answered_at.is_not(None).label("answered"))
        .select_from(_CONTACTS.outerjoin(_INVITATIONS, _INVITATIONS.c.contact_id == _CONTACTS.c.id)
                     .outerjoin(_REQUESTS, _REQUESTS.c.id == _CONTACTS.c.request_id)))
    if campaign_id is not None:
        query = query.where(_CONTACTS.c.campaign_id == campaign_id)
    return [tuple(row) for row in session.execute(query)]


def attributed_requests(session: Session, campaign_ids: Sequence[str]) -> dict[str, int]:
    """Requests attributed to each campaign (RequestSource.campaign), whatever the contact."""
    if not campaign_ids:
        return {}
    rows = session.execute(select_columns(_REQUESTS.c.source_campaign, func.count())
                           .where(_REQUESTS.c.source_campaign.in_(list(campaign_ids)))
                           .group_by(_REQUESTS.c.source_campaign))
    return {campaign_id: int(n) for campaign_id, n in rows}


def invitation_of(session: Session, contact_id: int) -> CampaignInvitation | None:
    return session.exec(select(CampaignInvitation).where(CampaignInvitation.contact_id == contact_id)).first()


def uncertain_message_ids(session: Session, campaign_id: str, limit: int) -> list[str]:
    """Message-IDs of the campaign's invitations whose outcome is unknown (the operator looks them up)."""
    return list(session.execute(select_columns(_INVITATIONS.c.message_id).where(
        _INVITATIONS.c.mailing == campaign_id, _INVITATIONS.c.status == "uncertain")
        .order_by(_INVITATIONS.c.id).limit(limit)).scalars())
