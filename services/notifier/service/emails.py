"""Compose one email copy: French plain text + HTML from Jinja2 templates, threading headers.

Every copy carries: a precomputed ``Message-ID``; ``In-Reply-To`` (the previous message this
recipient got in the thread) and ``References`` (the thread root first); a stable Subject;
``Reply-To`` with the recipient's own signed reply address; ``Auto-Submitted: auto-generated``
and ``List-Id``. The envelope sender is the recipient's reply address too, so a bounce comes
back to an address that says exactly which participant failed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "emails"

NEED_LABELS = {
    "pfmp": "Accueil de stagiaires (PFMP)",
    "apprentissage": "Apprentissage",
    "recrutement": "Recrutement",
    "intervention": "Intervention en classe",
    "visite": "Visite d'entreprise",
    "jury": "Participation à un jury",
    "materiel": "Don de matériel",
    "soutien": "Soutien, mécénat",
    "autre": "Autre besoin",
}


def need_labels(needs: list[str]) -> list[str]:
    return [NEED_LABELS.get(n, n) for n in needs]


_env = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class OutgoingCopy:
    to_email: str
    to_name: str | None
    mail_from: str
    reply_to: str
    subject: str
    message_id: str
    references: list[str]
    list_id: str
    template: str
    context: dict
    date: datetime
    attachments: list[Attachment] = field(default_factory=list)


def render(template: str, context: dict) -> tuple[str, str]:
    text = _env.get_template(f"{template}.txt").render(**context)
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    html = _env.get_template(f"{template}.html").render(**context)
    return text, html


def one_line(value: str | None) -> str:
    """Header-safe text: no CR/LF (header injection), whitespace collapsed."""
    return " ".join((value or "").split())


def compose(copy: OutgoingCopy) -> bytes:
    text, html = render(copy.template, copy.context)
    msg = EmailMessage()
    name, addr = parseaddr(copy.mail_from)
    msg["From"] = formataddr((name, addr)) if name else addr
    to_email, to_name = one_line(copy.to_email), one_line(copy.to_name)
    msg["To"] = Address(display_name=to_name, addr_spec=to_email) if _address_ok(to_email) else to_email
    msg["Reply-To"] = copy.reply_to
    msg["Subject"] = one_line(copy.subject)
    msg["Date"] = format_datetime(copy.date)
    msg["Message-ID"] = copy.message_id
    if copy.references:
        msg["In-Reply-To"] = copy.references[-1]
        msg["References"] = " ".join(copy.references)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    msg["List-Id"] = copy.list_id
    msg["Content-Language"] = "fr"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    if copy.attachments:
        msg.make_mixed()
        for att in copy.attachments:
            maintype, _, subtype = att.content_type.partition("/")
            msg.add_attachment(att.data, maintype=maintype or "application",
                               subtype=subtype or "octet-stream", filename=att.filename)
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def _address_ok(email: str) -> bool:
    try:
        Address(addr_spec=email)
        return True
    except Exception:
        return False
