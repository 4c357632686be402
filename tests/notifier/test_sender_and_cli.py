"""The sender's retries and dead-lettering against a real (stopped) SMTP port, the resume of
stored-but-unprocessed inbound mail, and the `monlyceepro reminders` command."""

from __future__ import annotations

from sqlmodel import Session, select

from services.notifier import cli, metrics
from services.notifier.inbound_server import process_pending_inbound
from services.notifier.models import InboundEmail, OutboundEmail, Participant, Thread
from services.notifier.sender import OutboundSender
from services.notifier.service import threads
from services.notifier.service.mailer import reply_address_of
from shared.platform.db import unit_of_work
from tests.notifier.support import COMPANY, COPY, LEAD, reply_bytes, routed_event, run


def _statuses(engine) -> list[tuple[str, int]]:
    with Session(engine) as session:
        return [(r.status, r.attempts) for r in session.exec(select(OutboundEmail).order_by(OutboundEmail.id))]


def test_unreachable_smtp_retries_with_backoff_then_dead_letters(engine, ctx, sink, clock):
    sink.stop()  # nothing listens on the SMTP port any more
    with unit_of_work(engine) as session:
        threads.start_thread(session, ctx, routed_event())
    sender = OutboundSender(engine, ctx.settings, clock)
    dead_before = metrics.EMAILS_FAILED.labels("initial")._value.get()
    assert run(sender.send_due()) == 3
    assert _statuses(engine) == [("pending", 1)] * 3
    assert run(sender.send_due()) == 0  # backoff: not due yet
    for _ in range(ctx.settings.max_send_attempts - 1):
        clock.advance(seconds=5)
        run(sender.send_due())
    assert _statuses(engine) == [("dead", ctx.settings.max_send_attempts)] * 3
    assert metrics.EMAILS_FAILED.labels("initial")._value.get() - dead_before == 3
    with Session(engine) as session:
        assert all(r.last_error for r in session.exec(select(OutboundEmail)))


def test_inbound_stored_before_a_crash_is_processed_later(engine, ctx, sink, clock):
    with unit_of_work(engine) as session:
        threads.start_thread(session, ctx, routed_event())
        lead = session.exec(select(Participant).where(Participant.email == LEAD)).one()
        thread = session.get(Thread, lead.thread_id)
        rcpt = reply_address_of(ctx, thread, lead)
        # What the SMTP server commits before answering 250; the process then died.
        session.add(InboundEmail(rcpt=rcpt, mail_from=LEAD, raw=reply_bytes(
            sender=LEAD, to=rcpt, subject="Re: demande", body="Oui, avec plaisir.")))
    assert process_pending_inbound(engine, ctx) == 1
    assert process_pending_inbound(engine, ctx) == 0
    with Session(engine) as session:
        assert session.exec(select(InboundEmail)).one().outcome == "accepted"
        relayed = session.exec(select(OutboundEmail).where(OutboundEmail.kind == "reply")).all()
    assert sorted(r.to_email for r in relayed) == sorted([COMPANY, COPY])


def test_reminders_command_runs_one_pass(engine, ctx, database_url, monkeypatch, capsys):
    with unit_of_work(engine) as session:
        threads.start_thread(session, ctx, routed_event())  # routed Monday 23 Nov 2026 09:00 UTC
    monkeypatch.setenv("MLP_DATABASE_URL", database_url)
    assert cli.reminders(["--now", "2026-11-25T12:00:00+00:00"]) == 0
    assert "Relances : 0" in capsys.readouterr().out
    assert cli.reminders(["--now", "2026-11-26T12:00:00+00:00"]) == 0
    assert "Relances : 1" in capsys.readouterr().out
    assert cli.reminders(["--now", "2026-11-26T12:00:00+00:00"]) == 0
    assert "Relances : 0" in capsys.readouterr().out


def test_outbound_gauge_shows_the_copies_waiting_and_how_long_the_oldest_has_waited(engine, ctx, sink, clock):
    """What ops see while a burst is beyond the sender, or while the SMTP relay is down: the copies
    queued and the age of the oldest, back to zero once they have left."""
    from datetime import timedelta

    from sqlalchemy import update

    from shared.platform.clock import utcnow

    def gauge() -> dict[str, float]:
        found = metrics.OutboundGauge()
        found.engine = engine
        return {family.name: family.samples[0].value for family in found.collect()}

    assert gauge() == {"mlp_outbound_emails_pending": 0, "mlp_outbound_oldest_pending_age_seconds": 0}
    with unit_of_work(engine) as session:
        threads.start_thread(session, ctx, routed_event())
    with Session(engine) as session:  # queued twenty minutes ago (the row's own wall-clock stamp)
        session.execute(update(OutboundEmail).values(created_at=utcnow() - timedelta(minutes=20)))
        session.commit()
    waiting = gauge()
    assert waiting["mlp_outbound_emails_pending"] == 3
    assert 20 * 60 <= waiting["mlp_outbound_oldest_pending_age_seconds"] < 21 * 60
    assert run(OutboundSender(engine, ctx.settings, clock).send_due()) == 3
    assert gauge() == {"mlp_outbound_emails_pending": 0, "mlp_outbound_oldest_pending_age_seconds": 0}
    assert len(sink.wait_for(3)) == 3
