"""Outgoing e-mail of the catalog (magic links), via SMTP; addresses never reach the logs."""

from __future__ import annotations

from email.message import EmailMessage
from urllib.parse import urlparse

import aiosmtplib

from shared.platform.logging import get_logger
from shared.platform.settings import Settings

log = get_logger(__name__)


def magic_link_message(settings: Settings, to: str, link: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = to
    msg["Subject"] = "Votre lien de connexion à l'espace RBE — MonLycéePro"
    msg.set_content(
        "Bonjour,\n\n"
        "Vous avez demandé à mettre à jour la fiche de votre lycée sur MonLycéePro.\n"
        f"Cliquez sur ce lien (valable 30 minutes, utilisable une seule fois) :\n\n{link}\n\n"
        "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message.\n\n"
        "L'équipe MonLycéePro\n"
    )
    return msg


async def send(settings: Settings, message: EmailMessage) -> bool:
    url = urlparse(settings.smtp_url)
    try:
        await aiosmtplib.send(
            message, hostname=url.hostname or "127.0.0.1", port=url.port or 25,
            username=url.username, password=url.password, use_tls=url.scheme == "smtps", timeout=15,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        log.warning("mail_send_failed", error=type(exc).__name__)
        return False
    log.info("mail_sent", kind="magic_link")
    return True
