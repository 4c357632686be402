"""The real inbound SMTP server: replies are checked, stripped, stored and relayed in the thread."""

from __future__ import annotations

import base64
import io
import json
import smtplib
import uuid
import zipfile
from email import policy
from email.message import EmailMessage

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from services.notifier import repository as repo
from services.notifier.inbound_server import InboundHandler, InboundServer
from services.notifier.migrations import SCHEMA as NOTIFIER_SCHEMA
from services.notifier.models import InboundEmail, Participant, Thread, ThreadEntry
from services.notifier.sender import OutboundSender
from services.notifier.service import threads
from services.notifier.service.mailer import reply_address_of
from shared.platform.db import make_engine, unit_of_work
from shared.platform.migrations import upgrade
from shared.platform.outbox import OutboxEvent
from tests.notifier.support import COMPANY, COPY, LEAD, reply_bytes, routed_event, run

QUOTED_REPLY = (
    "Bonjour Madame Martin,\n\nNous pouvons accueillir vos deux stagiaires en mars.\n\n"
    "Bien cordialement,\nMarie Dupont\nLycée François Rabelais\n\n"
    "Le lun. 23 nov. 2026 à 10:00, MonLycéePro <ne-pas-repondre@monlyceepro.localhost> a écrit :\n"
    "> Bonjour Marie,\n> Une entreprise s'adresse à votre lycée.\n> Contact : Jeanne Martin, 0472000000\n"
)


@pytest.fixture
def sqlite_engine(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path}/refusals.db")
    upgrade(NOTIFIER_SCHEMA, eng)
    yield eng
    eng.dispose()


@pytest.fixture
def refusing_system(sqlite_engine, ctx, sink, clock):
    """Refusals at RCPT / size happen before any SQL: SQLite is enough."""
    yield from _system(sqlite_engine, ctx, sink, clock)


@pytest.fixture
def system(engine, ctx, sink, clock):
    yield from _system(engine, ctx, sink, clock)


def _system(engine, ctx, sink, clock):
    settings = ctx.settings.model_copy(update={"inbound_max_bytes": 200_000, "attachment_max_bytes": 50_000})
    ctx.settings = settings
    server = InboundServer(InboundHandler(engine, ctx), "127.0.0.1", settings.inbound_smtp_port)
    server.start()
    with unit_of_work(engine) as session:
        threads.start_thread(session, ctx, routed_event())
    sender = OutboundSender(engine, settings, clock)
    run(sender.send_due())
    sink.messages.clear()
    yield engine, ctx, sender
    server.stop()


def _address(engine, ctx, email: str) -> str:
    with Session(engine) as session:
        person = session.exec(select(Participant).where(Participant.email == email)).one()
        thread = session.get(Thread, person.thread_id)
        return reply_address_of(ctx, thread, person)


def _send(ctx, rcpt: str, raw: bytes, mail_from: str) -> None:
    with smtplib.SMTP("127.0.0.1", ctx.settings.inbound_smtp_port, timeout=10) as smtp:
        smtp.sendmail(mail_from, [rcpt], raw)


def _outcomes(engine) -> list[str]:
    with Session(engine) as session:
        return [r.outcome for r in session.exec(select(InboundEmail))]


def test_lead_reply_is_stripped_and_relayed_to_company_and_copies(system, sink):
    engine, ctx, sender = system
    rcpt = _address(engine, ctx, LEAD)
    _send(ctx, rcpt, reply_bytes(sender=f"Marie Dupont <{LEAD}>", to=rcpt, subject="Re: demande",
                                 body=QUOTED_REPLY), LEAD)
    assert _outcomes(engine) == ["accepted"]
    run(sender.send_due())
    assert sorted(m.to for m in sink.messages) == sorted([COMPANY, COPY])
    with Session(engine) as session:
        root = session.exec(select(Thread)).one().root_message_id
    for m in sink.messages:
        msg = m.msg
        text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
        assert "deux stagiaires en mars" in text
        assert "a écrit :" not in text.split("a écrit :", 1)[1] if "a écrit :" in text else True
        assert "> Une entreprise" not in text and "0472000000" not in text
        assert "Bien cordialement,\nMarie Dupont\nLycée François Rabelais" in text  # the signature is kept
        assert str(msg["References"]).split()[0] == root
        assert str(msg["In-Reply-To"]).strip() in str(msg["References"])
    with Session(engine) as session:
        events = [json.loads(r.payload)["data"] for r in session.exec(select(OutboxEvent))]
        lead = session.exec(select(Participant).where(Participant.email == LEAD)).one()
    replies = [e for e in events if e.get("kind") == "reply"]
    assert len(replies) == 1 and replies[0]["author_role"] == "lead" and "stagiaires" in replies[0]["text"]
    assert [e["status"] for e in events if "status" in e] == ["answered"]
    assert lead.status == "answered"


def test_the_signature_reaches_the_company_and_the_device_footer_does_not(system, sink):
    """Issue 17 item 4: « Bien cordialement, Marie Dubois, RBE, Lycée …, 04 72 … » was cut, and
    « Envoyé de mon iPhone » was relayed."""
    engine, ctx, sender = system
    rcpt = _address(engine, ctx, LEAD)
    body = ("Bonjour,\n\nJe peux vous recevoir jeudi.\n\nBien cordialement,\nMarie Dubois\nRBE\n"
            "Lycée François Rabelais\n04 72 11 22 33\n\nEnvoyé de mon iPhone\n\n"
            "Le lun. 23 nov. 2026 à 10:00, MonLycéePro <ne-pas-repondre@monlyceepro.localhost> a écrit :\n"
            "> Une entreprise s'adresse à votre lycée.\n")
    _send(ctx, rcpt, reply_bytes(sender=f"Marie Dubois <{LEAD}>", to=rcpt, subject="Re: demande", body=body), LEAD)
    run(sender.send_due())
    text = sink.to(COMPANY)[0].get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Je peux vous recevoir jeudi." in text
    assert "Bien cordialement,\nMarie Dubois\nRBE\nLycée François Rabelais\n04 72 11 22 33" in text
    assert "iPhone" not in text and "> Une entreprise" not in text


def test_company_reply_reaches_the_lycees_with_attachments_within_the_limit(system, sink):
    engine, ctx, sender = system
    rcpt = _address(engine, ctx, COMPANY)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = COMPANY, rcpt, "Re: demande"
    msg.set_content("Merci ! Voici la convention.")
    msg.add_attachment(b"%PDF-1.4 petit", maintype="application", subtype="pdf", filename="convention.pdf")
    msg.add_attachment(b"x" * 60_000, maintype="application", subtype="octet-stream", filename="video.bin")
    _send(ctx, rcpt, msg.as_bytes(policy=policy.SMTP), COMPANY)
    run(sender.send_due())
    # The relayed reply to the lycées, and a notice to the company about the attachment left out.
    assert sorted(m.to for m in sink.messages) == sorted([LEAD, COPY, COMPANY])
    relayed = sink.to(LEAD)[0]
    names = [part.get_filename() for part in relayed.iter_attachments()]
    assert names == ["convention.pdf"]
    assert "video.bin (trop volumineuse)" in relayed.get_body(("plain",)).get_content()
    assert "video.bin (trop volumineuse)" in sink.to(COMPANY)[0].get_body(("plain",)).get_content()


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
DOCX_BYTES = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
DOCM_BYTES = _zip({"[Content_Types].xml": b"<Types macroEnabled/>", "word/document.xml": b"<w:document/>",
                   "word/vbaProject.bin": b"\x00"})
EXE_BYTES = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 120 + b"This program cannot be run in DOS mode."


def test_only_documents_and_images_are_relayed_by_content_with_safe_names(system, sink):
    """Issue 17 item 6: « ../../plaquette.pdf.exe » and an HTML file with <script> reached the company."""
    engine, ctx, sender = system
    rcpt = _address(engine, ctx, COMPANY)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = COMPANY, rcpt, "Re: demande"
    msg.set_content("Voici nos documents.")
    for data, (maintype, subtype), name in [
        (b"%PDF-1.7 plaquette", ("application", "octet-stream"), "../../plaquette.pdf.exe"),
        (EXE_BYTES, ("application", "pdf"), "convention.pdf"),
        (b"<html><body><script>alert(1)</script></body></html>", ("text", "plain"), "lisez-moi.txt"),
        (_zip({"setup.exe": EXE_BYTES}), ("application", "zip"), "dossier.zip"),
        (DOCM_BYTES, ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document"), "fiche.docx"),
        (PNG_BYTES, ("image", "png"), "C:\\Users\\jeanne\\photo atelier.png"),
        (DOCX_BYTES, ("application", "octet-stream"), "fiche de poste"),
        (b"Nom;Poste\nJeanne;Tutrice\n", ("application", "octet-stream"), "tuteurs\u202egpj.csv"),
    ]:
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    _send(ctx, rcpt, msg.as_bytes(policy=policy.SMTP), COMPANY)
    run(sender.send_due())
    assert _outcomes(engine) == ["accepted"]
    relayed = sink.to(LEAD)[0]
    assert [(part.get_filename(), part.get_content_type()) for part in relayed.iter_attachments()] == [
        ("plaquette.pdf", "application/pdf"),
        ("photo atelier.png", "image/png"),
        ("fiche de poste.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("tuteursgpj.csv", "text/csv"),
    ]
    text = relayed.get_body(("plain",)).get_content()
    for dropped in ("convention.pdf (type de fichier non accepté)", "lisez-moi.txt (type de fichier non accepté)",
                    "dossier.zip (type de fichier non accepté)", "fiche.docx (document contenant des macros)"):
        assert dropped in text
    # The sender is told, in French, in one notice of the thread (and nobody else gets it).
    notices = [m for m in sink.to(COMPANY)]
    assert len(notices) == 1
    notice = notices[0].get_body(("plain",)).get_content()
    assert "Votre message a bien été transmis, mais sans ces pièces jointes" in notice
    assert "- convention.pdf (type de fichier non accepté)" in notice and "dossier.zip" in notice
    assert len(sink.to(LEAD)) == 1 and len(sink.to(COPY)) == 1
    assert REGISTRY.get_sample_value("mlp_inbound_attachments_dropped_total", {"reason": "macro"}) >= 1


def test_a_message_of_refused_attachments_only_is_not_relayed_and_the_sender_is_told(system, sink):
    engine, ctx, sender = system
    rcpt = _address(engine, ctx, LEAD)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = LEAD, rcpt, "Re: demande"
    msg.add_attachment(EXE_BYTES, maintype="application", subtype="pdf", filename="plaquette.pdf.exe")
    _send(ctx, rcpt, msg.as_bytes(policy=policy.SMTP), LEAD)
    run(sender.send_due())
    assert _outcomes(engine) == ["refused_attachments"]
    assert sink.to(COMPANY) == [] and sink.to(COPY) == []
    notice = sink.to(LEAD)[0].get_body(("plain",)).get_content()
    assert "n'a pas été transmis" in notice and "plaquette.pdf.exe (type de fichier non accepté)" in notice
    with Session(engine) as session:
        assert session.exec(select(ThreadEntry).where(ThreadEntry.kind == "reply")).all() == []
        assert session.exec(select(Participant).where(Participant.email == LEAD)).one().status == "pending"


def _raw_reply(sender: str, to: str, content_type: str, body: bytes) -> bytes:
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: Re: demande\r\nMessage-ID: <{uuid.uuid4().hex}@ac-lyon.fr>\r\n"
            f"MIME-Version: 1.0\r\n{content_type}\r\n\r\n").encode() + body


def test_a_reply_that_is_only_invalid_base64_is_not_relayed_nor_counted_as_an_answer(system, sink):
    """Issue 17 item 7: a part with invalid base64 was relayed as mojibake and counted as the lycée's reply."""
    engine, ctx, sender = system
    rcpt = _address(engine, ctx, LEAD)
    before = REGISTRY.get_sample_value("mlp_inbound_messages_total", {"outcome": "undecodable"}) or 0.0
    _send(ctx, rcpt, _raw_reply(LEAD, rcpt, "Content-Type: text/plain; charset=utf-8\r\n"
                                "Content-Transfer-Encoding: base64", b"@@@ceci n'est pas du base64 !!!\r\n"), LEAD)
    run(sender.send_due())
    assert _outcomes(engine) == ["undecodable"]
    assert sink.messages == []
    assert REGISTRY.get_sample_value("mlp_inbound_messages_total", {"outcome": "undecodable"}) - before == 1
    with Session(engine) as session:
        assert session.exec(select(Participant).where(Participant.email == LEAD)).one().status == "pending"
        assert session.exec(select(Thread)).one().first_answer_at is None
        assert session.exec(select(ThreadEntry).where(ThreadEntry.kind == "reply")).all() == []


def test_undecodable_parts_are_left_out_and_the_rest_is_relayed(system, sink):
    engine, ctx, sender = system
    rcpt = _address(engine, ctx, LEAD)
    good_html = base64.encodebytes("<p>Réponse en <b>HTML</b>, lisible.</p>".encode()).replace(b"\n", b"\r\n")
    body = (b"--b1\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n"
            b"--b2\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            b"\xc3\xa9\xc3\xa9 pas du base64 %%%\r\n"
            b"--b2\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + good_html + b"--b2--\r\n"
            b"--b1\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=convention.pdf\r\n\r\nJVBERi0xLjQ*!!\r\n"
            b"--b1--\r\n")
    _send(ctx, rcpt, _raw_reply(LEAD, rcpt, 'Content-Type: multipart/mixed; boundary="b1"', body), LEAD)
    run(sender.send_due())
    assert _outcomes(engine) == ["accepted"]
    relayed = sink.to(COMPANY)[0]
    text = relayed.get_body(("plain",)).get_content()
    assert "Réponse en HTML, lisible." in text and "pas du base64" not in text
    assert list(relayed.iter_attachments()) == []
    assert "convention.pdf (fichier illisible, encodage invalide)" in text
    assert "convention.pdf (fichier illisible, encodage invalide)" in sink.to(LEAD)[0].get_body(("plain",)).get_content()


def _replies_to(sink, address: str, marker: str) -> list[EmailMessage]:
    return [m for m in sink.to(address) if marker in m.get_body(("plain",)).get_content()]


def test_repeated_rcpts_and_a_resent_message_id_are_relayed_once(system, sink):
    """Issue 17 item 5: one transaction with the reply address three times (case variants), then the
    same Message-ID again, was relayed once per RCPT and per resend."""
    engine, ctx, sender = system
    rcpt = _address(engine, ctx, LEAD)
    local, domain = rcpt.split("@")
    raw = reply_bytes(sender=LEAD, to=rcpt, subject="Re: demande", body="Réponse unique, mardi 10 h.")
    with smtplib.SMTP("127.0.0.1", ctx.settings.inbound_smtp_port, timeout=10) as smtp:
        smtp.sendmail(LEAD, [rcpt, rcpt.upper(), f"{local}@{domain.upper()}"], raw)
    _send(ctx, rcpt, raw, LEAD)  # the same message sent again
    resent = raw.replace("Réponse unique".encode(), b"Reponse unique")  # edited, same Message-ID
    _send(ctx, rcpt, resent, LEAD)
    run(sender.send_due())
    assert sorted(_outcomes(engine)) == ["accepted"] + ["duplicate"] * 4
    assert len(_replies_to(sink, COMPANY, "unique, mardi")) == 1
    assert len(_replies_to(sink, COPY, "unique, mardi")) == 1
    with Session(engine) as session:
        assert len(session.exec(select(ThreadEntry).where(ThreadEntry.kind == "reply")).all()) == 1


def test_a_message_without_message_id_is_relayed_once_by_its_content(system, sink):
    engine, ctx, sender = system
    rcpt = _address(engine, ctx, COMPANY)

    def without_id(body: str) -> bytes:
        raw = reply_bytes(sender=COMPANY, to=rcpt, subject="Re: demande", body=body)
        return b"\r\n".join(line for line in raw.split(b"\r\n") if not line.lower().startswith(b"message-id:"))

    first = without_id("Sans identifiant, premier message.")
    _send(ctx, rcpt, first, COMPANY)
    _send(ctx, rcpt, first, COMPANY)
    _send(ctx, rcpt, without_id("Sans identifiant, second message."), COMPANY)
    run(sender.send_due())
    assert sorted(_outcomes(engine)) == ["accepted", "accepted", "duplicate"]
    assert len(_replies_to(sink, LEAD, "premier message")) == 1
    assert len(_replies_to(sink, LEAD, "second message")) == 1


def test_the_relay_key_is_unique_in_the_database(engine):
    """The once-per-message rule holds in the database, not only in the check before the relay."""
    with pytest.raises(IntegrityError), unit_of_work(engine) as session:
        repo.mark_relayed(session, "t" * 32, "mid:" + "0" * 64, "a" * 32)
        repo.mark_relayed(session, "t" * 32, "mid:" + "0" * 64, "b" * 32)


def test_forged_token_is_refused_at_rcpt(refusing_system):
    engine, ctx, _ = refusing_system
    good = _address(engine, ctx, LEAD)
    forged = good.replace(good.split(".")[2][:20], "0" * 20)
    for rcpt in (forged, f"reply+abc@{ctx.settings.reply_domain}", "quelquun@example.fr"):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            _send(ctx, rcpt, reply_bytes(sender=LEAD, to=rcpt, subject="x", body="y"), LEAD)
        assert refused.value.recipients[rcpt][0] == 550
    assert _outcomes(engine) == []


def test_wrong_sender_is_quarantined_and_not_relayed(system, sink):
    engine, ctx, sender = system
    rcpt = _address(engine, ctx, LEAD)
    raw = reply_bytes(sender="intrus@example.com", to=rcpt, subject="Re: demande", body="Je réponds à sa place.")
    _send(ctx, rcpt, raw, "intrus@example.com")
    run(sender.send_due())
    assert _outcomes(engine) == ["held"]  # held, and both sides told (tests/notifier/test_senders.py)
    assert sorted(m.to for m in sink.messages) == sorted(["intrus@example.com", LEAD])
    with Session(engine) as session:
        stored = session.exec(select(InboundEmail)).one()
        assert stored.raw == raw  # kept for review
        assert session.exec(select(ThreadEntry).where(ThreadEntry.kind == "reply")).all() == []


def test_out_of_office_and_bounce_are_not_relayed(system, sink):
    engine, ctx, sender = system
    rcpt = _address(engine, ctx, COPY)
    _send(ctx, rcpt, reply_bytes(sender=COPY, to=rcpt, subject="Absence du bureau jusqu'au 30 novembre",
                                 body="Je suis absent.", headers={"Auto-Submitted": "auto-replied"}), COPY)
    _send(ctx, rcpt, reply_bytes(sender="MAILER-DAEMON@mx.ac-lyon.fr", to=rcpt, subject="Undelivered Mail",
                                 body="User unknown"), "")
    run(sender.send_due())
    assert _outcomes(engine) == ["auto_reply", "bounce"]
    assert sink.messages == []
    with Session(engine) as session:
        assert session.exec(select(Participant).where(Participant.email == COPY)).one().failing


def test_oversized_message_is_refused(refusing_system):
    engine, ctx, _ = refusing_system
    rcpt = _address(engine, ctx, LEAD)
    big = reply_bytes(sender=LEAD, to=rcpt, subject="Re", body="a" * 300_000)
    with pytest.raises(smtplib.SMTPException) as refused:
        _send(ctx, rcpt, big, LEAD)
    assert "552" in str(refused.value) or getattr(refused.value, "smtp_code", 0) == 552
    assert _outcomes(engine) == []


def _too_large_count() -> float:
    return REGISTRY.get_sample_value("mlp_inbound_messages_total", {"outcome": "too_large"}) or 0.0


def test_the_advertised_size_is_the_limit_and_every_oversize_refusal_is_counted(refusing_system):
    """Issue 17: the server advertised 1 MiB more than MLP_INBOUND_MAX_BYTES, and aiosmtpd's own refusals
    (far past the limit) were not counted."""
    engine, ctx, _ = refusing_system
    rcpt = _address(engine, ctx, LEAD)
    before = _too_large_count()
    with smtplib.SMTP("127.0.0.1", ctx.settings.inbound_smtp_port, timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.esmtp_features["size"] == str(ctx.settings.inbound_max_bytes)
        code, _ = smtp.mail(LEAD, [f"SIZE={ctx.settings.inbound_max_bytes + 1}"])
        assert code == 552
    huge = reply_bytes(sender=LEAD, to=rcpt, subject="Re", body="a" * (ctx.settings.inbound_max_bytes + 2_000_000))
    with pytest.raises(smtplib.SMTPException):
        _send(ctx, rcpt, huge, LEAD)
    assert _too_large_count() - before == 2
    assert _outcomes(engine) == []
