"""The real inbound SMTP server: replies are checked, stripped, stored and relayed in the thread."""

from __future__ import annotations

import json
import smtplib
from email import policy
from email.message import EmailMessage

import pytest
from prometheus_client import REGISTRY
from sqlmodel import Session, select

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
        text = msg.get_body(("plain",)).get_content()
        assert "deux stagiaires en mars" in text
        assert "a écrit :" not in text.split("a écrit :", 1)[1] if "a écrit :" in text else True
        assert "> Une entreprise" not in text and "0472000000" not in text
        assert "Bien cordialement" not in text
        assert str(msg["References"]).split()[0] == root
        assert str(msg["In-Reply-To"]).strip() in str(msg["References"])
    with Session(engine) as session:
        events = [json.loads(r.payload)["data"] for r in session.exec(select(OutboxEvent))]
        lead = session.exec(select(Participant).where(Participant.email == LEAD)).one()
    replies = [e for e in events if e.get("kind") == "reply"]
    assert len(replies) == 1 and replies[0]["author_role"] == "lead" and "stagiaires" in replies[0]["text"]
    assert [e["status"] for e in events if "status" in e] == ["answered"]
    assert lead.status == "answered"


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
    assert sorted(m.to for m in sink.messages) == sorted([LEAD, COPY])
    relayed = sink.to(LEAD)[0]
    names = [part.get_filename() for part in relayed.iter_attachments()]
    assert names == ["convention.pdf"]
    assert "video.bin" in relayed.get_body(("plain",)).get_content()


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
    assert _outcomes(engine) == ["wrong_sender"]
    assert sink.messages == []
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
