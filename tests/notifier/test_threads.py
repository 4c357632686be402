"""Thread creation, escalation, follow-up and erasure on SQLite and PostgreSQL, delivered to a
real SMTP sink by the real sender."""

from __future__ import annotations

import json
import uuid

from sqlmodel import Session, select

from services.notifier.models import OutboundEmail, Participant, Thread
from services.notifier.sender import OutboundSender
from services.notifier.service import followups, threads
from services.notifier.service.addresses import verify_reply_address
from shared.contracts.events import RequestErased, RequestFollowUp, RoutedRecipient
from shared.platform.db import unit_of_work
from shared.platform.outbox import OutboxEvent
from tests.notifier.support import COMPANY, COPY, LEAD, STATUS_URL, routed_event, run


def _deliver(engine, settings, clock) -> int:
    sender = OutboundSender(engine, settings, clock)
    total = 0
    while n := run(sender.send_due()):
        total += n
    return total


def _events(engine, event_type: str) -> list[dict]:
    with Session(engine) as session:
        rows = session.exec(select(OutboxEvent).where(OutboxEvent.event_type == event_type)).all()
    return [json.loads(r.payload)["data"] for r in rows]


def test_routed_request_gives_one_copy_per_participant_with_threading_headers(engine, ctx, sink, clock):
    event = routed_event()
    with unit_of_work(engine) as session:
        threads.start_thread(session, ctx, event)
    with unit_of_work(engine) as session:  # a redelivered event changes nothing
        threads.start_thread(session, ctx, event)
    assert _deliver(engine, ctx.settings, clock) == 3
    received = sink.wait_for(3)
    assert sorted(m.to for m in received) == sorted([LEAD, COPY, COMPANY])
    with Session(engine) as session:
        thread = session.exec(select(Thread)).one()
    ids = set()
    for m in received:
        msg = m.msg
        assert msg["References"] == thread.root_message_id
        assert msg["In-Reply-To"] == thread.root_message_id
        assert msg["Subject"] == thread.subject
        assert msg["Auto-Submitted"] == "auto-generated"
        assert msg["List-Id"]
        ids.add(msg["Message-ID"])
        target = verify_reply_address(ctx.settings.secret_key, ctx.settings.reply_domain, str(msg["Reply-To"]))
        assert target is not None and target.thread_token == thread.token
        assert m.mail_from == str(msg["Reply-To"])  # bounces come back to the participant's address
        assert msg.get_body(("plain",)) is not None and msg.get_body(("html",)) is not None
    assert len(ids) == 3
    lead_text = sink.to(LEAD)[0].get_body(("plain",)).get_content()
    assert "Vous coordonnez la réponse" in lead_text and "Lycée Jean Moulin" in lead_text
    assert "/actions/" in lead_text
    copy_text = sink.to(COPY)[0].get_body(("plain",)).get_content()
    assert "Lycée François Rabelais" in copy_text and "coordonne la réponse" in copy_text
    ack = sink.to(COMPANY)[0].get_body(("plain",)).get_content()
    assert "Lycée François Rabelais" in ack and "Lycée Jean Moulin" in ack and "/actions/" not in ack
    assert STATUS_URL in ack  # the company keeps its status page beyond the thank-you page
    assert STATUS_URL in sink.to(COMPANY)[0].get_body(("html",)).get_content()
    assert STATUS_URL not in lead_text and STATUS_URL not in copy_text  # private to the company
    acks = _events(engine, "thread.message")
    assert [a["kind"] for a in acks] == ["acknowledgement"]
    assert acks[0]["message_id"] == str(sink.to(COMPANY)[0]["Message-ID"]).strip()


def test_escalation_moves_the_lead_and_tells_the_company(engine, ctx, sink, clock):
    first = routed_event()
    with unit_of_work(engine) as session:
        threads.start_thread(session, ctx, first)
        lead = session.exec(select(Participant).where(Participant.role == "lead")).one()
        lead.status = "declined"
        session.add(lead)
    _deliver(engine, ctx.settings, clock)
    sink.messages.clear()
    new_lead = RoutedRecipient(assignment_id=uuid.uuid4(), rbe_email="luc@ac-lyon.fr", rbe_name="Luc Bernard",
                               role="lead", uais=["0690003C"], lycees=["Lycée La Martinière"])
    copy = first.recipients[1]
    with unit_of_work(engine) as session:
        threads.escalate(session, ctx, routed_event(kind="escalation", request_id=first.request_id,
                                                    recipients=[new_lead, copy]))
    _deliver(engine, ctx.settings, clock)
    assert sorted(m.to for m in sink.messages) == sorted(["luc@ac-lyon.fr", COMPANY, COPY])
    company_text = sink.to(COMPANY)[0].get_body(("plain",)).get_content()
    assert "ne pas pouvoir donner suite" in company_text and "Lycée La Martinière" in company_text
    assert "vous qui coordonnez" in sink.to("luc@ac-lyon.fr")[0].get_body(("plain",)).get_content()
    # The company's second message threads under its first one.
    with Session(engine) as session:
        copies = session.exec(select(OutboundEmail).where(OutboundEmail.to_email == COMPANY)
                              .order_by(OutboundEmail.id)).all()
    assert str(sink.to(COMPANY)[0]["In-Reply-To"]).strip() == copies[0].message_id
    assert [e["kind"] for e in _events(engine, "thread.message")] == ["acknowledgement", "escalation"]


def test_followup_reaches_the_lycees_and_erasure_forgets_the_company(engine, ctx, sink, clock):
    first = routed_event()
    with unit_of_work(engine) as session:
        threads.start_thread(session, ctx, first)
    _deliver(engine, ctx.settings, clock)
    sink.messages.clear()
    with unit_of_work(engine) as session:
        followups.follow_up(session, ctx, RequestFollowUp(correlation_id="t", request_id=uuid.uuid4(),
                                                        original_request_id=first.request_id,
                                                        message="Toujours intéressés, merci !"))
    _deliver(engine, ctx.settings, clock)
    assert sorted(m.to for m in sink.messages) == sorted([LEAD, COPY])
    assert "Toujours intéressés" in sink.to(LEAD)[0].get_body(("plain",)).get_content()
    assert [e["kind"] for e in _events(engine, "thread.message")] == ["acknowledgement"]  # intake shows it itself
    with unit_of_work(engine) as session:  # the relay published the thread's messages
        for row in session.exec(select(OutboxEvent)).all():
            row.published_at = row.created_at
            session.add(row)
    with unit_of_work(engine) as session:
        threads.erase(session, ctx, RequestErased(correlation_id="t", request_id=first.request_id,
                                                  reason="company_request"))
    with Session(engine) as session:
        thread = session.exec(select(Thread)).one()
        company = session.exec(select(Participant).where(Participant.role == "company")).one()
        raws = session.exec(select(OutboundEmail.raw)).all()
        published = session.exec(select(OutboxEvent.event_type).where(OutboxEvent.published_at != None)).all()  # noqa: E711
    assert thread.erased and "Boulangerie" not in thread.company_name
    assert json.loads(thread.request_summary) == {"erased": "company_request"}  # nothing kept but why
    assert company.email.endswith("@invalid") and company.name is None
    assert all(raw == b"" for raw in raws)
    assert published == []  # the published thread messages about the request are dropped


def test_unroutable_request_goes_to_the_academie_fallback(engine, ctx, sink, clock):
    event = routed_event(recipients=[], unroutable=True)
    with unit_of_work(engine) as session:
        threads.start_thread(session, ctx, event)
    _deliver(engine, ctx.settings, clock)
    assert sorted(m.to for m in sink.messages) == sorted([ctx.settings.fallback_email, COMPANY])
    assert "référent entreprises de l'académie" in sink.to(COMPANY)[0].get_body(("plain",)).get_content()


def test_exhausted_escalation_copies_the_academie_named_by_the_matcher(engine, ctx, sink, clock):
    first = routed_event()
    with unit_of_work(engine) as session:
        threads.start_thread(session, ctx, first)
        lead = session.exec(select(Participant).where(Participant.role == "lead")).one()
        lead.status = "expired"
        session.add(lead)
    _deliver(engine, ctx.settings, clock)
    sink.messages.clear()
    exhausted = routed_event(kind="escalation", request_id=first.request_id, recipients=[], unroutable=True)
    exhausted = exhausted.model_copy(update={"fallback_email": "ce.lyon@ac-lyon.fr"})
    with unit_of_work(engine) as session:
        threads.escalate(session, ctx, exhausted)
    _deliver(engine, ctx.settings, clock)
    # The expired lead stays informed as a copy; the académie gets the request; the company is told.
    assert sorted(m.to for m in sink.messages) == sorted(["ce.lyon@ac-lyon.fr", COMPANY, LEAD, COPY])
    company_text = sink.to(COMPANY)[0].get_body(("plain",)).get_content()
    assert "aucun autre lycée" in company_text and "référent entreprises de l'académie" in company_text


def test_escalation_promoting_an_existing_copy_makes_it_lead_without_a_second_request(engine, ctx, sink, clock):
    first = routed_event()
    with unit_of_work(engine) as session:
        threads.start_thread(session, ctx, first)
        lead = session.exec(select(Participant).where(Participant.role == "lead")).one()
        lead.status = "declined"
        session.add(lead)
    _deliver(engine, ctx.settings, clock)
    sink.messages.clear()
    promoted = first.recipients[1].model_copy(update={"role": "lead"})
    with unit_of_work(engine) as session:
        threads.escalate(session, ctx, routed_event(kind="escalation", request_id=first.request_id,
                                                    recipients=[promoted]))
    _deliver(engine, ctx.settings, clock)
    with Session(engine) as session:
        people = {p.email: p for p in session.exec(select(Participant))}
    assert people[COPY].role == "lead" and people[COPY].lead_since is not None
    assert (people[LEAD].role, people[LEAD].active) == ("copy", False)  # declined: no longer copied
    assert sorted(m.to for m in sink.messages) == sorted([COPY, COMPANY])
    assert "vous qui coordonnez" in sink.to(COPY)[0].get_body(("plain",)).get_content()


def test_header_injection_in_company_data_is_neutralised(engine, ctx, sink, clock):
    event = routed_event().model_copy(update={"company_name": "Evil\r\nBcc: victime@example.com"})
    event = event.model_copy(update={"contact": event.contact.model_copy(update={"name": "Jeanne\nBcc: x@y.fr"})})
    with unit_of_work(engine) as session:
        threads.start_thread(session, ctx, event)
    _deliver(engine, ctx.settings, clock)
    assert sorted(m.to for m in sink.messages) == sorted([LEAD, COPY, COMPANY])
    for m in sink.messages:
        assert m.msg["Bcc"] is None and m.rcpt_tos == [m.to]
        assert "\n" not in str(m.msg["Subject"]) and "Evil Bcc:" in str(m.msg["Subject"])
