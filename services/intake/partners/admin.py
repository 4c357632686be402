"""What an admin does to partners (``monlyceepro partner …``, cli.py): each function is one
transaction. Errors an admin can fix are ``AdminError`` with a French message."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session

from services.intake.partners import keys, repository
from services.intake.partners.models import Partner, PartnerKey
from services.intake.partners.summary import summary
from shared.platform.clock import utcnow
from shared.platform.db import unit_of_work


class AdminError(Exception):
    """Refused, with a French message for the admin."""


def _enabled_or_any(session: Session, slug: str) -> Partner:
    partner = repository.get_partner(session, slug)
    if partner is None:
        raise AdminError(f"Partenaire inconnu : {slug}. Voir `monlyceepro partner list`.")
    return partner


def _origins(texts: list[str]) -> list[str]:
    try:
        return list(dict.fromkeys(keys.normalise_origin(t) for t in texts))
    except ValueError as exc:
        raise AdminError(str(exc)) from None


def add_partner(engine: Engine, slug: str, name: str, origins: list[str]) -> Partner:
    try:
        keys.check_slug(slug)
    except ValueError as exc:
        raise AdminError(str(exc)) from None
    if not name.strip():
        raise AdminError("Donnez le nom affiché du partenaire (--nom).")
    clean = _origins(origins)
    with unit_of_work(engine) as session:
        if repository.get_partner(session, slug) is not None:
            raise AdminError(f"Le partenaire {slug} existe déjà.")
        partner = Partner(slug=slug, name=name.strip()[:200], origins=clean)
        session.add(partner)
    return partner


def list_partners(engine: Engine) -> list[tuple[Partner, int]]:
    """Every partner, with its number of active keys."""
    with Session(engine, expire_on_commit=False) as session:
        return [(p, sum(1 for k in repository.keys_of(session, p.slug) if k.revoked_at is None))
                for p in repository.all_partners(session)]


def change_origins(engine: Engine, slug: str, add: list[str], remove: list[str]) -> list[str]:
    added, removed = _origins(add), _origins(remove)
    with unit_of_work(engine) as session:
        partner = _enabled_or_any(session, slug)
        origins = [o for o in partner.origins if o not in removed]
        origins += [o for o in added if o not in origins]
        partner.origins = origins  # a new list: the JSON column is saved only when reassigned
        session.add(partner)
    return origins


def set_enabled(engine: Engine, slug: str, enabled: bool) -> Partner:
    with unit_of_work(engine) as session:
        partner = _enabled_or_any(session, slug)
        partner.disabled_at = None if enabled else (partner.disabled_at or utcnow())
        session.add(partner)
    return partner


@dataclass(frozen=True)
class CreatedKey:
    partner: str
    prefix: str
    key: str
    scopes: tuple[str, ...]


def create_key(engine: Engine, secret: bytes, slug: str, scopes_text: str, label: str | None = None) -> CreatedKey:
    try:
        scopes = keys.parse_scopes(scopes_text)
    except ValueError as exc:
        raise AdminError(str(exc)) from None
    new = keys.new_key(secret)
    with unit_of_work(engine) as session:
        partner = _enabled_or_any(session, slug)
        if partner.disabled_at is not None:
            raise AdminError(f"Le partenaire {slug} est désactivé : réactivez-le d'abord (`partner enable`).")
        session.add(PartnerKey(prefix=new.prefix, key_hash=new.key_hash, partner=slug, scopes=",".join(scopes),
                               label=label[:120] if label else None))
    return CreatedKey(slug, new.prefix, new.key, scopes)


def list_keys(engine: Engine, slug: str) -> list[PartnerKey]:
    with Session(engine, expire_on_commit=False) as session:
        _enabled_or_any(session, slug)
        return repository.keys_of(session, slug)


def revoke_key(engine: Engine, prefix: str) -> PartnerKey:
    """Revoke a key by its prefix (« mlp_3f9a2c1b », or the whole key: only its prefix is read)."""
    prefix = prefix.strip()[:len(keys.KEY_PREFIX) + 8]
    with unit_of_work(engine) as session:
        key = repository.get_key(session, prefix)
        if key is None:
            raise AdminError(f"Aucune clé de préfixe {prefix}. Voir `monlyceepro partner key list SLUG`.")
        key.revoked_at = key.revoked_at or utcnow()
        session.add(key)
    return key


def stats(engine: Engine, slug: str, period: str) -> dict:
    with Session(engine) as session:
        partner = _enabled_or_any(session, slug)
        return summary(session, slug, partner.name, period)
