"""The hand-written MIME output reads, through the stdlib parser, exactly as the former
``EmailMessage`` (default policy) output did: same header values, same parts, same contents.
Plus what the former code did not guarantee: CRLF everywhere, folded lines under 78 characters,
no header injection, ``Content-Language`` actually present (``set_content`` used to drop it)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr

import pytest

from services.notifier.service.emails import Attachment, OutgoingCopy, compose, one_line, render

SUBJECT = "[MonLycéePro] Boulangerie Exemple : Accueil de stagiaires (PFMP) (Lyon)"
HEADERS = ("From", "To", "Reply-To", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
           "Auto-Submitted", "X-Auto-Response-Suppress", "List-Id", "MIME-Version")


def legacy_compose(copy: OutgoingCopy) -> bytes:
    """The composition this module replaced (commit 1434767), kept as the reference."""
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


def make_copy(*, to_name: str | None = "Marie Dupont", to_email: str = "marie.dupont@ac-lyon.fr",
              subject: str = SUBJECT, template: str = "relay", text: str = "Bonjour,\nNous acceptons.",
              attachments: list[Attachment] | None = None, references: list[str] | None = None,
              mail_from: str = "MonLycéePro <ne-pas-repondre@monlyceepro.localhost>") -> OutgoingCopy:
    return OutgoingCopy(
        to_email=to_email, to_name=to_name, mail_from=mail_from,
        reply_to="reply+0123456789.abcdef01.0123456789abcdef0123@reponse.monlyceepro.localhost",
        subject=subject, message_id="<0123456789ab.abcdef01.0123456789@reponse.monlyceepro.localhost>",
        references=["<thread.0123456789@reponse.monlyceepro.localhost>",
                    "<ba9876543210.abcdef01.0123456789@reponse.monlyceepro.localhost>"]
        if references is None else references,
        list_id="Demandes MonLycéePro <demandes.monlyceepro.localhost>", template=template,
        context={"author_label": "Paul Martin (Lycée Jean Moulin)", "text": text, "dropped": [],
                 "actions": None, "thread": {"subject": subject}},
        date=datetime(2026, 11, 23, 9, 0, tzinfo=UTC), attachments=attachments or [],
    )


def structure(raw: bytes) -> dict:
    """What a mail client sees: decoded header values, addresses, and every part decoded."""
    msg = message_from_bytes(raw, policy=policy.default)
    seen: dict = {name: str(msg[name]) if msg[name] is not None else None for name in HEADERS}
    for name in ("From", "To"):
        seen[name + " addresses"] = [(a.display_name, a.addr_spec) for a in msg[name].addresses]
    seen["parts"] = [
        (part.get_content_type(), part.get_content_charset(), part.get_filename(), part.is_attachment(),
         None if part.is_multipart() else _lines(part.get_content()))
        for part in msg.walk()
    ]
    return seen


def _lines(content: str | bytes) -> str | bytes:
    """Text as read by a client: quoted-printable keeps the CRLF of the wire, base64 its own \\n."""
    return content.replace("\r\n", "\n") if isinstance(content, str) else content


def defects(raw: bytes) -> set[tuple[str, str]]:
    msg = message_from_bytes(raw, policy=policy.default)
    found = {("message", repr(d)) for part in msg.walk() for d in part.defects}
    return found | {(name, repr(d)) for name in HEADERS for d in getattr(msg[name], "defects", ())}


CASES = {
    "plain": make_copy(),
    "accents in name and subject": make_copy(to_name="Hélène Lefèvre-Éluard",
                                             subject="Réponse : élève accueilli à Saint-Étienne"),
    "very long subject": make_copy(subject=("[MonLycéePro] Société Coopérative Ouvrière de Production "
                                            "des Boulangers Réunis : " + ", ".join(["Accueil de stagiaires "
                                            "(PFMP)", "Apprentissage", "Recrutement", "Visite d'entreprise",
                                            "Participation à un jury", "Don de matériel"]) + " (Villeurbanne)")),
    "very long ascii subject": make_copy(subject=" ".join(["Boulangerie"] * 30)),
    "one very long word": make_copy(subject="Voir https://example.fr/" + "chemin/" * 200 + " merci"),
    "name with quotes and commas": make_copy(to_name='Dupont, Marie "la boulangère" (RBE)'),
    "ascii name with specials": make_copy(to_name='Martin, Paul "PM"'),
    "long ascii name with specials": make_copy(to_name="Lycée-free: " + "A, B. " * 15),
    "no name, no references": make_copy(to_name=None, references=[]),
    "not an address": make_copy(to_email="pas une adresse"),
    "ascii from": make_copy(mail_from="Ne pas repondre <ne-pas-repondre@example.fr>"),
    "crlf body and long lines": make_copy(text="Ligne un\r\nLigne deux\r\n\r\n" + "très " * 60 + "\n.\nFrom x"),
    "attachments": make_copy(attachments=[
        Attachment("convention.pdf", "application/pdf", b"%PDF-1.4 " + bytes(range(256)) * 20),
        Attachment("Compte rendu de la réunion du comité \"été 2026\", version finale relue.docx",
                   "application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"PK\x03\x04data"),
        Attachment("photo.JPG", "image/jpeg", b"\xff\xd8\xff" + b"\x00" * 100),
        Attachment("", "", b"sans nom ni type"),
    ]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_new_composition_reads_as_the_former_one(name):
    copy = CASES[name]
    new, old = compose(copy), legacy_compose(copy)
    assert structure(new) == structure(old)
    assert message_from_bytes(new, policy=policy.default)["Content-Language"] == "fr"
    assert defects(new) <= defects(old)  # none, but for the address that is not one


@pytest.mark.parametrize("name", list(CASES))
def test_lines_end_in_crlf_and_headers_are_folded(name):
    raw = compose(CASES[name])
    assert b"\n" not in raw.replace(b"\r\n", b"")
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    for line in head.split("\r\n"):  # only a single unbreakable token (an encoded run of a name) passes 78
        assert len(line) <= 78 or (line.startswith(" ") and " " not in line[1:]), line
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))


def test_no_header_injection():
    copy = make_copy(to_name="Eve\r\nBcc: victime@example.fr", subject="Bonjour\r\nBcc: victime@example.fr\n\nx",
                     attachments=[Attachment("a\r\nBcc: victime@example.fr.txt", "text/plain\r\nBcc: x", b"x")])
    raw = compose(copy)
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["Bcc"] is None and all(part["Bcc"] is None for part in msg.walk())
    assert msg["Subject"] == "Bonjour Bcc: victime@example.fr x"
    assert msg["To"].addresses[0].display_name == "Eve Bcc: victime@example.fr"
    attachment = next(msg.iter_attachments())
    assert attachment.get_filename() == "a Bcc: victime@example.fr.txt"
    assert attachment.get_content_type() == "application/octet-stream"


def test_no_line_over_998_characters_whatever_the_input():
    copy = make_copy(to_name="é" * 600 + " " + "a" * 1200, subject="x" * 2000,
                     attachments=[Attachment("n" * 2000 + ".txt", "application/" + "x" * 2000, b"x")])
    raw = compose(copy)
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["Subject"] == "x" * 2000
    attachment = next(msg.iter_attachments())
    assert (attachment.get_filename(), attachment.get_content_type()) == ("n" * 2000 + ".txt",
                                                                         "application/octet-stream")


@pytest.mark.parametrize("subject", ["=?utf-8?q?faux?= mot", "Tarif 100 % =?", "東京の会社 : 研修"])
def test_text_that_looks_encoded_or_is_not_latin_reads_back_literally(subject):
    msg = message_from_bytes(compose(make_copy(subject=subject, to_name=subject)), policy=policy.default)
    assert msg["Subject"] == subject
    assert msg["To"].addresses[0].display_name == subject


def test_list_id_keeps_its_identifier_readable():
    """Mail clients filter on the raw ``<list-id>``: only the phrase is encoded."""
    raw = compose(make_copy())
    assert re.search(rb"^List-Id: .*\r\n <demandes\.monlyceepro\.localhost>\r\n|^List-Id: .*"
                     rb"<demandes\.monlyceepro\.localhost>\r\n", raw, re.M)
