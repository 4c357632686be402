"""All SQL of the partners domain. Functions take a Session; none of them commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from services.intake.models import CompanyRequest
from services.intake.partners.models import Partner, PartnerKey


def get_partner(session: Session, slug: str) -> Partner | None:
    return session.get(Partner, slug)


def enabled_partner(session: Session, slug: str) -> Partner | None:
    partner = session.get(Partner, slug)
    return partner if partner is not None and partner.disabled_at is None else None


def all_partners(session: Session) -> list[Partner]:
    return list(session.exec(select(Partner).order_by(col(Partner.slug))).all())


def enabled_origins(session: Session) -> dict[str, list[str]]:
    """slug -> origins of every enabled partner (the registry's copy)."""
    rows = session.execute(select_columns(col(Partner.slug), col(Partner.origins))
                           .where(col(Partner.disabled_at).is_(None)))
    return {slug: list(origins or []) for slug, origins in rows}


# ------------------------------------------------------------- keys
@dataclass(frozen=True)
class KeyOwner:
    """What an API call with a valid key may do, and for whom."""

    prefix: str
    partner: str
    scopes: tuple[str, ...]


_KEY_OWNER = (
    select_columns(col(PartnerKey.prefix), col(PartnerKey.partner), col(PartnerKey.scopes))
    .join(Partner, col(Partner.slug) == col(PartnerKey.partner))
    .where(col(PartnerKey.key_hash) == bindparam("key_hash"),
           col(PartnerKey.revoked_at).is_(None), col(Partner.disabled_at).is_(None))
)


def key_owner(session: Session, key_hash: str) -> KeyOwner | None:
    """The key with this hash, if it is not revoked and its partner is enabled."""
    row = session.execute(_KEY_OWNER, {"key_hash": key_hash}).first()
    return KeyOwner(row[0], row[1], tuple(row[2].split(","))) if row is not None else None


def get_key(session: Session, prefix: str) -> PartnerKey | None:
    return session.get(PartnerKey, prefix)


def keys_of(session: Session, slug: str) -> list[PartnerKey]:
    query = select(PartnerKey).where(col(PartnerKey.partner) == slug).order_by(col(PartnerKey.created_at))
    return list(session.exec(query).all())


# ------------------------------------------------------------- the partner's requests
def partner_request(session: Session, slug: str, request_id: str) -> CompanyRequest | None:
    """A request the partner submitted with one of its keys; None for anyone else's."""
    req = session.get(CompanyRequest, request_id)
    if req is None or req.source_partner != slug or req.source_kind != "partner_api":
        return None
    return req


def partner_requests_since(session: Session, slug: str, since: datetime | None) -> list[tuple]:
    """(created_at, source_kind, first_routed_at, first_answered_at) of every request attributed to
    the partner: no personal data."""
    query = select_columns(
        col(CompanyRequest.created_at), col(CompanyRequest.source_kind), col(CompanyRequest.first_routed_at),
        col(CompanyRequest.first_answered_at),
    ).where(col(CompanyRequest.source_partner) == slug)
    if since is not None:
        query = query.where(col(CompanyRequest.created_at) >= since)
    return list(session.execute(query).all())
