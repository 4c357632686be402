"""Outgoing e-mail of the catalog (magic links), via SMTP (``shared.platform.smtp``); addresses
never reach the logs."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.utils import parseaddr

from shared.platform import smtp
from shared.platform.logging import get_logger
from shared.platform.settings import Settings

log = get_logger(__name__)
SEND_TIMEOUT_S = 15.0


def _link_message(settings: Settings, to: str, subject: str, why: str, link: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(
        f"Bonjour,\n\n{why}\n"
        f"Cliquez sur ce lien (valable 30 minutes, utilisable une seule fois) :\n\n{link}\n\n"
        "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message.\n\n"
        "L'équipe MonLycéePro\n"
    )
    return msg


def magic_link_message(settings: Settings, to: str, link: str) -> EmailMessage:
    return _link_message(settings, to, "Votre lien de connexion à l'espace RBE — MonLycéePro",
                         "Vous avez demandé à mettre à jour la fiche de votre lycée sur MonLycéePro.", link)


def referent_link_message(settings: Settings, to: str, link: str) -> EmailMessage:
    return _link_message(settings, to, "Votre lien de connexion au suivi des demandes de l'académie — MonLycéePro",
                         "Vous avez demandé à vous connecter au suivi des demandes d'entreprises de votre académie.",
                         link)


async def send(settings: Settings, message: EmailMessage) -> bool:
    """Send to the ``To`` address, from the ``From`` one; False (logged) when it did not go."""
    envelope = smtp.Envelope(sender=parseaddr(message["From"])[1], recipient=parseaddr(message["To"])[1],
                             raw=message.as_bytes(policy=policy.SMTP))
    try:
        await smtp.send_one(smtp.SmtpUrl.parse(settings.smtp_url), envelope, timeout_s=SEND_TIMEOUT_S)
    except (smtp.SmtpError, OSError) as exc:
        log.warning("mail_send_failed", error=type(exc).__name__)
        return False
    log.info("mail_sent", kind="magic_link")
    return True
