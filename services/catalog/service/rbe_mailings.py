"""The emails of the RBE naming flow, as rows of one ``shared.platform.mailing`` table (``catalog_rbe_mail``):
who gets what is decided here (rows inserted ``pending``, one per (lycée, kind, ref)); the leased mailer sends
them at most once and ``compose`` writes each one when it leaves (and cancels it when it is no longer due:
the lycée's RBE was confirmed in the meantime, the nomination was withdrawn). Never commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import parseaddr

from sqlalchemy import Connection, Row
from sqlmodel import Session

from services.catalog import naming_repository as naming_repo
from services.catalog.models import CONFIRM_MAILING, INVITE_MAILING, RbeMail
from services.catalog.service.rbe_links import confirm_token, naming_token
from shared.platform.mailing import Cancel, Outgoing

INVITATION_KINDS = ("invitation", "relance-7", "relance-21")
REMINDER_DAYS = {"relance-7": 7, "relance-21": 21}


def queue_mail(
    session: Session,
    mailing: str,
    uai: str,
    academie: str,
    kind: str,
    ref: str,
    to_email: str,
    now: datetime,
    mail_domain: str,
) -> bool:
    """One pending row, unless this (lycée, kind, ref) already has one; True when added."""
    if naming_repo.rbe_mail_exists(session, uai, kind, ref):
        return False
    session.add(
        RbeMail(
            mailing=mailing,
            uai=uai,
            academie=academie,
            kind=kind,
            ref=ref,
            to_email=to_email,
            message_id=f"<{mailing}.{kind}.{ref}.{uai.lower()}@{mail_domain}>",
            next_attempt_at=now,
            created_at=now,
        )
    )
    return True


def plan_invitations(
    session: Session, now: datetime, mail_domain: str, academie: str | None = None, again: bool = False
) -> int:
    """Invite every lycée (of ``academie``) with an official address and no confirmed RBE. ``again``: a new
    round for them (re-sent per académie), else round 1 — so planning twice adds nothing."""
    added = 0
    rounds = naming_repo.invitation_rounds(session)
    for lycee in naming_repo.lycees_to_invite(session, academie):
        last = rounds.get(lycee.uai, 0)
        round_ = last + 1 if again or last == 0 else last
        added += queue_mail(
            session,
            INVITE_MAILING,
            lycee.uai,
            lycee.academie,
            "invitation",
            str(round_),
            lycee.mail.strip().lower(),
            now,
            mail_domain,
        )
    session.flush()
    return added


def plan_link_on_request(session: Session, uai: str, now: datetime, mail_domain: str) -> bool:
    """A naming link asked from the naming page (lost invitation, expired link, change of RBE), sent to the
    lycée's official address only; at most one an hour per lycée (the hour is the row's key)."""
    lycee = naming_repo.lycee_with_address(session, uai)
    if lycee is None:
        return False
    return queue_mail(
        session,
        CONFIRM_MAILING,
        lycee.uai,
        lycee.academie,
        "lien",
        now.strftime("%Y%m%d%H"),
        lycee.mail.strip().lower(),
        now,
        mail_domain,
    )


def plan_reminders(
    session: Session, now: datetime, mail_domain: str, academie: str | None = None
) -> dict[str, int]:
    """A reminder 7 then 21 days after a lycée's last invitation was sent, while it has no confirmed RBE."""
    added = dict.fromkeys(REMINDER_DAYS, 0)
    confirmed = naming_repo.uais_with_named_rbe(session)
    for row in naming_repo.last_sent_invitations(session, academie):
        if row.uai in confirmed or row.sent_at is None:
            continue
        sent_at = row.sent_at if row.sent_at.tzinfo else row.sent_at.replace(tzinfo=now.tzinfo)
        for kind, days in REMINDER_DAYS.items():
            if now - sent_at >= timedelta(days=days):
                added[kind] += queue_mail(
                    session,
                    INVITE_MAILING,
                    row.uai,
                    row.academie,
                    kind,
                    row.ref,
                    row.to_email or "",
                    now,
                    mail_domain,
                )
    session.flush()
    return added


# ------------------------------------------------------------------ composing (in the mailer's lease transaction)
@dataclass(frozen=True)
class RbeMailComposer:
    secret: str
    public_url: str  # the catalog's public address: the links point there
    mail_from: str

    def __call__(self, conn: Connection, row: Row) -> Outgoing | Cancel:
        if not row.to_email:
            return Cancel("adresse effacée")
        lycee = naming_repo.lycee_label(conn, row.uai)
        if lycee is None:
            return Cancel("lycée absent du catalogue")
        if row.kind == "lien":  # asked from the naming page: also to change a confirmed RBE
            return self._message(
                row, *invitation_text(row.kind, lycee.name, lycee.commune, self._naming_link(row.uai))
            )
        if row.kind in INVITATION_KINDS:
            if naming_repo.has_named_rbe(conn, row.uai):
                return Cancel("RBE déjà confirmé")
            return self._message(
                row, *invitation_text(row.kind, lycee.name, lycee.commune, self._naming_link(row.uai))
            )
        nomination = naming_repo.nomination_row(conn, int(row.ref))
        if nomination is None:
            return Cancel("désignation inconnue")
        if row.kind == "confirmation":
            if nomination.status != "pending":
                return Cancel("désignation retirée ou déjà confirmée")
            link = (
                f"{self.public_url}/designer-rbe/confirmer?jeton={confirm_token(self.secret, nomination.id)}"
            )
            return self._message(row, *confirmation_text(nomination.name, lycee.name, nomination.role, link))
        return self._message(row, *replaced_text(lycee.name, nomination.name))

    def _naming_link(self, uai: str) -> str:
        return f"{self.public_url}/designer-rbe?jeton={naming_token(self.secret, uai)}"

    def _message(self, row: Row, subject: str, body: str) -> Outgoing:
        msg = EmailMessage()
        msg["From"] = self.mail_from
        msg["To"] = row.to_email
        msg["Subject"] = subject
        msg["Message-ID"] = row.message_id
        msg.set_content(body)
        return Outgoing(
            sender=parseaddr(self.mail_from)[1], recipient=row.to_email, raw=msg.as_bytes(policy=policy.SMTP)
        )


def invitation_text(kind: str, lycee: str, commune: str, link: str) -> tuple[str, str]:
    subject = "Désignez votre RBE — MonLycéePro"
    if kind.startswith("relance"):
        subject = "Rappel : désignez votre RBE — MonLycéePro"
    where = f" ({commune})" if commune else ""
    why = (f"Aujourd'hui, celles qui concernent le {lycee}{where} arrivent à cette adresse, où la personne qui doit "
           "y répondre ne les voit pas toujours.")
    if kind == "lien":
        why = f"Un lien pour désigner ou changer le ou la RBE du {lycee}{where} a été demandé sur MonLycéePro."
    body = (
        "Madame, Monsieur,\n\n"
        "MonLycéePro transmet aux lycées professionnels les demandes des entreprises (stages, apprentissage, "
        f"visites, jurys…). {why}\n\n"
        "Désignez votre responsable du bureau des entreprises (RBE) : nom, adresse professionnelle et fonction. "
        "Vous pouvez en désigner plusieurs. Chaque personne désignée confirme par un lien reçu à sa propre "
        "adresse ; les demandes lui parviennent ensuite directement.\n\n"
        f"Désigner votre RBE (lien réservé à votre établissement, valable 60 jours) :\n{link}\n\n"
        "Le même lien permet plus tard de changer de RBE.\n\n"
        "L'équipe MonLycéePro\n"
    )
    return subject, body


def confirmation_text(name: str, lycee: str, role: str, link: str) -> tuple[str, str]:
    as_role = f" ({role})" if role else ""
    return (
        "Confirmez votre désignation comme RBE — MonLycéePro",
        (
            f"Bonjour {name},\n\n"
            f"Le {lycee} vous a désigné(e) comme responsable du bureau des entreprises{as_role} sur MonLycéePro.\n\n"
            f"Pour confirmer et recevoir directement les demandes des entreprises, ouvrez ce lien (valable 14 jours) :\n"
            f"{link}\n\n"
            "Si vous n'êtes pas concerné(e), ignorez ce message : rien ne change tant que vous ne confirmez pas.\n\n"
            "L'équipe MonLycéePro\n"
        ),
    )


def replaced_text(lycee: str, successor: str) -> tuple[str, str]:
    return (
        f"{lycee} : un autre RBE a été désigné — MonLycéePro",
        (
            "Bonjour,\n\n"
            f"Le {lycee} a désigné {successor} comme responsable du bureau des entreprises sur MonLycéePro, "
            "qui l'a confirmé. Les nouvelles demandes des entreprises pour ce lycée lui sont désormais adressées, et "
            "les échanges en cours lui ont été transmis.\n\n"
            "Merci pour votre engagement. Si ce changement vous surprend, répondez à ce message.\n\n"
            "L'équipe MonLycéePro\n"
        ),
    )
