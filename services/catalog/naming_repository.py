"""SQL of the RBE naming flow (issue 22): nominations, the naming mailing's rows, and the lycées to invite.
The rest of the catalog's SQL is in repository.py."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Connection, Row, func
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from services.catalog.models import INVITE_MAILING, Lycee, Rbe, RbeCoverage, RbeMail, RbeNomination


def nominations_of(session: Session, uai: str, statuses: Iterable[str]) -> list[RbeNomination]:
    return list(
        session.exec(
            select(RbeNomination)
            .where(RbeNomination.uai == uai, col(RbeNomination.status).in_(list(statuses)))
            .order_by(col(RbeNomination.id))
        ).all()
    )


def confirmed_nominations(session: Session) -> list[RbeNomination]:
    """Every confirmed nomination, first confirmed first (the read model's additional RBEs)."""
    return list(
        session.exec(
            select(RbeNomination)
            .where(RbeNomination.status == "confirmed")
            .order_by(col(RbeNomination.confirmed_at), col(RbeNomination.id))
        ).all()
    )


def batch_pending(session: Session, batch: str, email: str) -> list[RbeNomination]:
    """The pending nominations of one naming for one RBE (several lycées for an imported RBE)."""
    return list(
        session.exec(
            select(RbeNomination)
            .where(
                RbeNomination.batch == batch, RbeNomination.email == email, RbeNomination.status == "pending"
            )
            .order_by(col(RbeNomination.id))
        ).all()
    )


def get_nomination(session: Session, nomination_id: int) -> RbeNomination | None:
    return session.get(RbeNomination, nomination_id)


def contact_of(session: Session, uai: str) -> Rbe | None:
    """The lycée's routing contact (a named RBE or its generic address)."""
    coverage = session.get(RbeCoverage, uai)
    return session.get(Rbe, coverage.rbe_email) if coverage else None


def upsert_named_rbe(
    session: Session, email: str, name: str, keep_existing: bool = False, deputy_email: str | None = None
) -> Rbe:
    """The confirmed RBE in the directory (named, not generic); ``keep_existing``: an RBE already known keeps
    its name, deputy and absence. ``deputy_email`` (from an académie's list) fills a deputy not yet known: the
    RBE's own choice in their space is never overwritten."""
    known = session.get(Rbe, email)
    rbe = known or Rbe(email=email)
    if known is None or not keep_existing:
        rbe.name, rbe.is_generic, rbe.updated_at = name, False, datetime.now(UTC)
    if deputy_email and not rbe.deputy_email:
        rbe.deputy_email = deputy_email
    session.add(rbe)
    return rbe


def rbe_mail_exists(session: Session, uai: str, kind: str, ref: str) -> bool:
    return (
        session.exec(
            select(RbeMail.id).where(RbeMail.uai == uai, RbeMail.kind == kind, RbeMail.ref == ref)
        ).first()
        is not None
    )


def invitation_rounds(session: Session) -> dict[str, int]:
    """uai -> the last invitation round planned for it."""
    rows = session.exec(select(RbeMail.uai, RbeMail.ref).where(RbeMail.kind == "invitation")).all()
    rounds: dict[str, int] = {}
    for uai, ref in rows:
        rounds[uai] = max(rounds.get(uai, 0), int(ref))
    return rounds


def uais_with_named_rbe(session: Session) -> set[str]:
    rows = session.exec(
        select(RbeCoverage.uai)
        .join(Rbe, col(Rbe.email) == col(RbeCoverage.rbe_email))
        .where(col(Rbe.is_generic).is_(False))
    ).all()
    return set(rows)


def lycee_with_address(session: Session, uai: str) -> Lycee | None:
    lycee = session.get(Lycee, uai.strip().upper()[:8])
    return lycee if lycee is not None and lycee.mail.strip() else None


def lycees_to_invite(session: Session, academie: str | None) -> list[Lycee]:
    """Lycées with an official address and no confirmed RBE (of one académie, case-insensitive)."""
    query = select(Lycee).where(Lycee.mail != "").order_by(col(Lycee.uai))
    if academie:
        query = query.where(func.lower(Lycee.academie) == academie.strip().lower())
    named = uais_with_named_rbe(session)
    return [lycee for lycee in session.exec(query).all() if lycee.uai not in named]


def last_sent_invitations(session: Session, academie: str | None) -> list[RbeMail]:
    """Each lycée's latest sent invitation (its round decides the reminders)."""
    query = select(RbeMail).where(RbeMail.kind == "invitation", RbeMail.status == "sent")
    if academie:
        query = query.where(func.lower(RbeMail.academie) == academie.strip().lower())
    latest: dict[str, RbeMail] = {}
    for row in session.exec(query).all():
        if row.uai not in latest or int(row.ref) > int(latest[row.uai].ref):
            latest[row.uai] = row
    return list(latest.values())


def invite_status(session: Session, academie: str | None) -> list[tuple[str, str, int]]:
    """(kind, status, rows) of the invitation mailing."""
    query = (
        select(RbeMail.kind, RbeMail.status, func.count())
        .where(RbeMail.mailing == INVITE_MAILING)
        .group_by(RbeMail.kind, RbeMail.status)
        .order_by(RbeMail.kind, RbeMail.status)
    )
    if academie:
        query = query.where(func.lower(RbeMail.academie) == academie.strip().lower())
    return [(kind, status, int(count)) for kind, status, count in session.exec(query).all()]


def nomination_counts(session: Session) -> dict[str, int]:
    rows = session.exec(select(RbeNomination.status, func.count()).group_by(RbeNomination.status)).all()
    return {status: int(count) for status, count in rows}


def purge_before(session: Session, before: datetime) -> tuple[int, int]:
    """Retention: withdrawn or replaced nominations older than ``before`` are deleted, and the addresses of
    naming emails settled before it are erased (the rows stay: they keep each school to one invitation)."""
    old = session.exec(
        select(RbeNomination).where(
            col(RbeNomination.status).in_(("withdrawn", "replaced")), col(RbeNomination.created_at) < before
        )
    ).all()
    for row in old:
        session.delete(row)
    mails = session.exec(
        select(RbeMail).where(
            col(RbeMail.status).in_(("sent", "cancelled", "dead")),
            col(RbeMail.created_at) < before,
            col(RbeMail.to_email).is_not(None),
        )
    ).all()
    for mail in mails:
        mail.to_email = None
        session.add(mail)
    return len(old), len(mails)


# ------------------------------------------------------------------ read by the mailer's compose (its connection)
def lycee_label(conn: Connection, uai: str) -> Row | None:
    return conn.execute(sql_select(col(Lycee.name), col(Lycee.commune)).where(col(Lycee.uai) == uai)).first()


def has_named_rbe(conn: Connection, uai: str) -> bool:
    found = conn.execute(
        sql_select(func.count())
        .select_from(RbeCoverage)
        .join(Rbe, col(Rbe.email) == col(RbeCoverage.rbe_email))
        .where(col(RbeCoverage.uai) == uai, col(Rbe.is_generic).is_(False))
    ).scalar()
    return bool(found)


def nomination_row(conn: Connection, nomination_id: int) -> Row | None:
    return conn.execute(sql_select(RbeNomination).where(col(RbeNomination.id) == nomination_id)).first()
