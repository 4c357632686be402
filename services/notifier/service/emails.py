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
from email.utils import format_datetime, parseaddr
from functools import cache, lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, Template, select_autoescape

from services.notifier.service import mime
from services.notifier.service.mime import one_line

__all__ = ["Attachment", "OutgoingCopy", "compose", "need_labels", "one_line", "render"]

_BLANK_LINES = re.compile(r"\n{3,}")
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
    auto_reload=False,
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


@cache
def _template(name: str) -> Template:
    """Compiled once: the environment would otherwise look each template up (and stat its file)
    for every copy."""
    return _env.get_template(name)


def render(template: str, context: dict) -> tuple[str, str]:
    text = _template(f"{template}.txt").render(context)
    text = _BLANK_LINES.sub("\n\n", text).strip() + "\n"
    html = _template(f"{template}.html").render(context)
    return text, html


@lru_cache(maxsize=8)
def _from_header(mail_from: str) -> str:
    name, addr = parseaddr(mail_from)
    return mime.fold("From", mime.address_tokens(name, addr))


def compose(copy: OutgoingCopy) -> bytes:
    """The copy as sent (CRLF line ends): headers, then text and HTML alternatives, then any attachments."""
    text, html = render(copy.template, copy.context)
    to_email = one_line(copy.to_email)
    to = (mime.address_tokens(copy.to_name, to_email) if mime.address_ok(to_email)
          else mime.text_tokens(to_email))
    head = [
        _from_header(copy.mail_from),
        mime.fold("To", to),
        mime.fold("Reply-To", [one_line(copy.reply_to)]),
        mime.header("Subject", copy.subject),
        mime.fold("Date", [format_datetime(copy.date)]),
        mime.fold("Message-ID", [one_line(copy.message_id)]),
    ]
    if copy.references:
        references = [one_line(r) for r in copy.references]
        head += [mime.fold("In-Reply-To", references[-1:]), mime.fold("References", references)]
    head += [
        "Auto-Submitted: auto-generated\r\n",
        "X-Auto-Response-Suppress: OOF, AutoReply\r\n",
        mime.header("List-Id", copy.list_id),
        "Content-Language: fr\r\n",
        "MIME-Version: 1.0\r\n",
    ]
    content_type, body = mime.multipart("alternative", [mime.text_part("plain", text), mime.text_part("html", html)])
    if copy.attachments:
        alternative = content_type.encode("ascii") + b"\r\n" + body
        content_type, body = mime.multipart("mixed", [alternative, *(
            mime.attachment_part(a.filename, a.content_type, a.data) for a in copy.attachments)])
    return "".join(head).encode("utf-8") + content_type.encode("ascii") + b"\r\n" + body
