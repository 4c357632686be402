"""Reminders and escalation timings with a controllable clock (working days, restart-safe)."""

from __future__ import annotations

import json
import re
from email import message_from_bytes, policy

from sqlmodel import Session, select

from services.notifier.models import OutboundEmail, Participant, Thread
from services.notifier.service import threads
from services.notifier.tasks import reminder_pass
from shared.platform.db import unit_of_work
from shared.platform.outbox import OutboxEvent
from tests.notifier.support import COMPANY, LEAD, routed_event


def _copies(engine, kind: str) -> list[OutboundEmail]:
    with Session(engine) as session:
        return list(session.exec(select(OutboundEmail).where(OutboundEmail.kind == kind)))


def _assignment_events(engine) -> list[dict]:
    with Session(engine) as session:
        rows = session.exec(select(OutboxEvent).where(OutboxEvent.event_type == "assignment.changed")).all()
    return [json.loads(r.payload)["data"] for r in rows]


def test_reminder_after_3_working_days_then_expiry_after_7(engine, ctx, clock):
    # Routed on Monday 23 Nov 2026, 09:00 UTC.
    with unit_of_work(engine) as session:
        threads.start_thread(session, ctx, routed_event())
    clock.advance(days=2, hours=23)  # Wednesday evening: not yet 3 working days
    assert reminder_pass(engine, ctx) == {"reminder": 0, "expiry": 0, "give_up": 0}
    clock.advance(hours=1)  # Thursday 09:00: 3 working days
    assert reminder_pass(engine, ctx)["reminder"] == 1
    assert reminder_pass(engine, ctx)["reminder"] == 0  # restart-safe: persisted, never twice
    reminders = _copies(engine, "reminder")
    assert [r.to_email for r in reminders] == [LEAD]
    # 7 working days from Monday 23 = Wednesday 2 Dec (the weekend does not count).
    clock.advance(days=5, hours=23)  # Wednesday 2 Dec, 08:00: one hour short
    assert reminder_pass(engine, ctx)["expiry"] == 0
    clock.advance(hours=1)  # Wednesday 2 Dec, 09:00
    assert reminder_pass(engine, ctx)["expiry"] == 1
    assert reminder_pass(engine, ctx)["expiry"] == 0
    events = _assignment_events(engine)
    assert [(e["status"], e["role"], e["rbe_email"]) for e in events] == [("expired", "lead", LEAD)]
    told = _copies(engine, "escalation")
    assert [c.to_email for c in told] == [COMPANY]
    body = message_from_bytes(told[0].raw, policy=policy.default).get_body(("plain",)).get_content()
    assert "autre établissement" in body


def test_no_answer_at_all_after_21_days_tells_company_and_copies_academie(engine, ctx, clock):
    with unit_of_work(engine) as session:
        threads.start_thread(session, ctx, routed_event())
    clock.advance(days=20, hours=23)
    assert reminder_pass(engine, ctx)["give_up"] == 0
    clock.advance(hours=1)
    assert reminder_pass(engine, ctx)["give_up"] == 1
    assert reminder_pass(engine, ctx)["give_up"] == 0
    with Session(engine) as session:
        thread = session.exec(select(Thread)).one()
        fallback = session.exec(select(Participant).where(Participant.role == "fallback")).one()
    assert thread.gave_up_at is not None
    assert fallback.email == ctx.settings.fallback_email
    sent_to = sorted(c.to_email for c in _copies(engine, "giveup"))
    assert sent_to == sorted([COMPANY, ctx.settings.fallback_email])


def test_an_answer_stops_reminders(engine, ctx, clock):
    with unit_of_work(engine) as session:
        threads.start_thread(session, ctx, routed_event())
        lead = session.exec(select(Participant).where(Participant.role == "lead")).one()
        lead.status = "accepted"
        thread = session.exec(select(Thread)).one()
        thread.first_answer_at = clock()
        session.add(lead)
        session.add(thread)
    clock.advance(days=30)
    assert reminder_pass(engine, ctx) == {"reminder": 0, "expiry": 0, "give_up": 0}


def _action_token(engine, to: str, label: str) -> str:
    with Session(engine) as session:
        first = session.exec(select(OutboundEmail).where(OutboundEmail.to_email == to)
                             .order_by(OutboundEmail.id)).first()
    text = message_from_bytes(first.raw, policy=policy.default).get_body(("plain",)).get_content()
    return re.search(rf"- {label} : \S+/actions/(\S+)", text).group(1)


def test_reminders_follow_the_rbe_who_took_the_request(engine, ctx, clock):
    """Issue 17 item 3: a copy RBE clicks « Je m'en occupe » and becomes the lead. The former lead
    gets no « sans nouvelle de votre part » reminder and does not expire; when the new lead hands the
    request to a colleague, that colleague gets the reminders a lead gets."""
    from services.notifier.service import actions
    from tests.notifier.support import COPY

    with unit_of_work(engine) as session:
        threads.start_thread(session, ctx, routed_event())
    with unit_of_work(engine) as session:
        actions.apply(session, ctx, _action_token(engine, COPY, "Je m'en occupe"))
    clock.advance(days=3)  # Thursday 09:00: the former lead's reminder would be due
    assert reminder_pass(engine, ctx) == {"reminder": 0, "expiry": 0, "give_up": 0}
    with unit_of_work(engine) as session:
        actions.apply(session, ctx, _action_token(engine, COPY, "Transférer à un collègue"),
                      transfer_to="collegue@ac-lyon.fr")
    clock.advance(days=5)  # Tuesday 1 Dec, 09:00: 3 working days after the transfer
    assert reminder_pass(engine, ctx)["reminder"] == 1
    assert [r.to_email for r in _copies(engine, "reminder")] == ["collegue@ac-lyon.fr"]
    clock.advance(days=30)
    reminder_pass(engine, ctx)
    assert [(e["rbe_email"], e["status"]) for e in _assignment_events(engine) if e["status"] == "expired"] == [
        ("collegue@ac-lyon.fr", "expired")]
    assert LEAD not in [r.to_email for r in _copies(engine, "reminder")]


def test_unanswered_gauge_counts_requests_after_5_working_days(engine, ctx, clock):
    from services.notifier.metrics import AssignmentGauge

    gauge = AssignmentGauge()
    gauge.engine, gauge.ctx = engine, ctx

    def unanswered() -> float:
        family = next(f for f in gauge.collect() if f.name == "mlp_requests_unanswered_over_5_working_days")
        return family.samples[0].value

    with unit_of_work(engine) as session:  # routed Monday 23 Nov 2026, 09:00 UTC
        threads.start_thread(session, ctx, routed_event())
    clock.advance(days=6, hours=23)  # Sunday evening: 5 calendar days passed, only 5 working days on Monday
    assert unanswered() == 0
    clock.advance(hours=1)  # Monday 30 Nov 09:00: 5 working days
    assert unanswered() == 1
    with Session(engine) as session:
        thread = session.exec(select(Thread)).one()
        thread.first_answer_at = clock()
        session.add(thread)
        session.commit()
    assert unanswered() == 0


def _pass_waits_for(engine, ctx, thread_id: str, holder: Session) -> list[list[str]]:
    """Run a reminder pass (another instance) while ``holder``'s transaction is open: it must wait
    for it, then decide from what it committed. Returns the pass's steps."""
    import threading

    from services.notifier.service.reminders import remind_thread

    outcome: list[list[str]] = []

    def other_instance() -> None:
        with unit_of_work(engine) as session:
            outcome.append(remind_thread(session, ctx, thread_id))

    other = threading.Thread(target=other_instance)
    other.start()
    other.join(0.5)
    assert other.is_alive()  # it waits for the transaction in progress
    holder.commit()
    holder.close()
    other.join(10)
    return outcome


def test_two_instances_reminding_one_thread_at_once_send_one_reminder(engine, ctx, clock):
    """Two notifier instances run their reminder pass at the same moment (scale-out): the second
    must see the first's reminder, not decide from the same stale row and send another."""
    from services.notifier.service.reminders import remind_thread

    with unit_of_work(engine) as session:
        thread_id = threads.start_thread(session, ctx, routed_event()).id
    clock.advance(days=3)  # Thursday 09:00: the reminder is due
    first = Session(engine)
    assert remind_thread(first, ctx, thread_id) == ["reminder"]  # decided, not committed yet
    assert _pass_waits_for(engine, ctx, thread_id, first) == [[]]
    assert [r.to_email for r in _copies(engine, "reminder")] == [LEAD]


def test_a_lead_declining_while_a_reminder_pass_runs_gets_no_reminder(engine, ctx, clock):
    """The lead clicks "Ce n'est pas pour nous" as another instance's reminder pass reaches the
    thread: the pass must see the lead gone, not remind from the state read before the click.
    (Declining changes only the participant's row: nothing else made the pass wait.)"""
    from services.notifier.service import actions

    with unit_of_work(engine) as session:
        thread_id = threads.start_thread(session, ctx, routed_event()).id
        lead_copy = session.exec(select(OutboundEmail).where(OutboundEmail.to_email == LEAD)).one()
    text = message_from_bytes(lead_copy.raw, policy=policy.default).get_body(("plain",)).get_content()
    token = re.search(r"- Ce n'est pas pour nous : \S+/actions/(\S+)", text).group(1)
    clock.advance(days=3)  # Thursday 09:00: the reminder is due
    clicking = Session(engine)
    actions.apply(clicking, ctx, token)  # applied, not committed yet
    assert _pass_waits_for(engine, ctx, thread_id, clicking) == [[]]
    assert _copies(engine, "reminder") == []
    assert "declined" in [e["status"] for e in _assignment_events(engine)]


def test_a_lead_replying_while_a_reminder_pass_runs_gets_no_reminder(engine, ctx, clock):
    """Same race with an email reply, once the thread has had its first answer (so the reply does
    not update the thread's row). On PostgreSQL the reply's new thread entry, whose foreign key
    share-locks the thread, already made the pass wait; the explicit lock no longer depends on it."""
    from services.notifier.models import InboundEmail
    from services.notifier.service import inbound
    from services.notifier.service.mailer import reply_address_of
    from tests.notifier.support import reply_bytes

    with unit_of_work(engine) as session:
        thread_id = threads.start_thread(session, ctx, routed_event()).id
        lead = session.exec(select(Participant).where(Participant.email == LEAD)).one()
        rcpt = reply_address_of(ctx, session.get(Thread, thread_id), lead)
        stored = InboundEmail(rcpt=rcpt, mail_from=LEAD, raw=reply_bytes(
            sender=LEAD, to=rcpt, subject="Re: demande", body="Bonjour, nous pouvons en accueillir deux."))
        session.add(stored)
        thread = session.get(Thread, thread_id)
        thread.first_answer_at = ctx.now()  # a copy RBE answered first
        session.add(thread)
        session.flush()
        inbound_id = stored.id
    clock.advance(days=3)
    replying = Session(engine)
    assert inbound.process(replying, ctx, replying.get(InboundEmail, inbound_id)) == "accepted"
    assert _pass_waits_for(engine, ctx, thread_id, replying) == [[]]
    assert _copies(engine, "reminder") == []


def test_the_pass_visits_every_thread_it_may_act_on(engine, settings):
    """The pass only visits the threads ``open_thread_ids`` reads in SQL: at every moment, each
    thread on which ``remind_thread`` would act (tried in a rolled-back transaction) is among
    them, across a weekend, a public holiday and the change to summer time (28 March 2027)."""
    from datetime import UTC, datetime

    from services.notifier.service.mailer import NotifierContext
    from services.notifier.service.reminders import open_thread_ids, remind_thread
    from tests.support.clock import FakeClock

    clock = FakeClock(datetime(2027, 3, 22, 8, 30, tzinfo=UTC))  # Monday; Easter Monday is 29 March
    ctx = NotifierContext(settings=settings, clock=clock)
    for _ in range(16):  # a thread every 11 hours, at every time of day
        with unit_of_work(engine) as session:
            threads.start_thread(session, ctx, routed_event())
        clock.advance(hours=11)
    acted = 0
    for _ in range(4 * 24):  # every 6 hours for 24 days
        with Session(engine) as session:
            listed = set(open_thread_ids(session, ctx))
            every = [t.id for t in session.exec(select(Thread))]
        for thread_id in every:
            with Session(engine) as session:
                if remind_thread(session, ctx, thread_id):
                    assert thread_id in listed, (clock(), thread_id)
                    acted += 1
                session.rollback()
        reminder_pass(engine, ctx)
        clock.advance(hours=6)
    assert acted >= 16 * 3  # each thread: a reminder, an expiry, a give-up at least
