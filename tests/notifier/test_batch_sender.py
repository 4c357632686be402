"""The batch sender on SQLite and PostgreSQL with a real aiosmtpd sink: one lease transaction per
batch (lead copies first, never the same row twice), bounded concurrency over kept-open
connections, a failure in the middle of a batch retried alone, two senders on one database."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import event as sa_event
from sqlmodel import Session, select

from services.notifier import repository as repo
from services.notifier.models import OutboundEmail, Participant
from services.notifier.sender import OutboundSender, Outcome
from services.notifier.service import threads
from shared.platform.db import make_engine, unit_of_work
from tests.notifier.support import COMPANY, COPY, LEAD, routed_event, run
from tests.support.eventually import eventually


def _queue(engine, ctx, requests: int) -> None:
    with unit_of_work(engine) as session:
        for _ in range(requests):
            threads.start_thread(session, ctx, routed_event())


def _rows(engine) -> list[OutboundEmail]:
    with Session(engine) as session:
        return list(session.exec(select(OutboundEmail).order_by(OutboundEmail.id)))


def test_batch_lease_takes_lead_copies_first_and_never_twice(engine, ctx, clock):
    _queue(engine, ctx, 3)  # 9 rows: per request lead, copy, company
    now, until = clock(), clock() + timedelta(seconds=120)
    with unit_of_work(engine) as session:
        first = repo.lease_due_batch(session, now, until, 4)
        roles = {p.id: p.role for p in session.exec(select(Participant))}
    assert [roles[r.participant_id] for r in first] == ["lead", "lead", "lead", "copy"]
    with unit_of_work(engine) as session:
        second = repo.lease_due_batch(session, now, until, 100)
        assert repo.lease_due_batch(session, now, until, 100) == []  # everything is leased
    assert not {r.id for r in first} & {r.id for r in second}
    assert len(first) + len(second) == 9
    assert [roles[r.participant_id] for r in second] == ["copy", "copy", "company", "company", "company"]
    with unit_of_work(engine) as session:  # a lease that ran out (the sender died) is taken again
        assert len(repo.lease_due_batch(session, until + timedelta(seconds=1), until + timedelta(seconds=2), 100)) == 9


def test_lead_priority_applies_within_a_window_of_the_oldest_due_rows(engine, ctx, clock):
    # The lease reads LEASE_WINDOW_FACTOR x limit oldest due rows, not the whole backlog: its
    # cost stays flat under a launch-day backlog, and a lead queued far behind waits its turn.
    _queue(engine, ctx, 3)  # rows: lead1 copy1 company1 lead2 copy2 company2 lead3 ...
    now, until = clock(), clock() + timedelta(seconds=120)
    with unit_of_work(engine) as session:
        roles = {p.id: p.role for p in session.exec(select(Participant))}
        window = repo.LEASE_WINDOW_FACTOR  # limit 1: the window holds this many rows
        taken = [repo.lease_due_batch(session, now, until, 1)[0] for _ in range(3)]
    assert window == 4
    assert [roles[r.participant_id] for r in taken] == ["lead", "lead", "copy"]  # lead3 is the 7th row


def test_concurrent_sends_over_kept_open_connections(engine, ctx, sink, clock):
    _queue(engine, ctx, 10)
    sender = OutboundSender(engine, ctx.settings.model_copy(update={"send_concurrency": 4}), clock)

    async def two_passes() -> tuple[int, int]:
        handled = await sender.send_due()
        _queue(engine, ctx, 2)  # more rows arrive: the same connections carry them
        handled_later = await sender.send_due()
        await sender.close()
        return handled, handled_later

    assert run(two_passes()) == (30, 6)
    received = sink.wait_for(36)
    assert len({str(m.msg["Message-ID"]) for m in received}) == 36
    assert 1 < len({m.peer for m in received}) <= 4  # parallel, bounded, reused across passes
    assert all(r.status == "sent" and r.attempts == 1 and r.lease_until is None for r in _rows(engine))


def test_a_failure_in_the_middle_of_a_batch_retries_only_that_row(engine, ctx, sink, clock):
    _queue(engine, ctx, 1)
    sink.refuse = {COPY}  # the relay refuses the co-recipient's address this time
    sender = OutboundSender(engine, ctx.settings, clock)
    assert run(sender.send_due()) == 3
    by_to = {r.to_email: r for r in _rows(engine)}
    assert (by_to[LEAD].status, by_to[COMPANY].status) == ("sent", "sent")
    assert (by_to[COPY].status, by_to[COPY].attempts) == ("pending", 1) and "550" in by_to[COPY].last_error
    assert run(sender.send_due()) == 0  # backoff: not due yet
    sink.refuse = set()
    clock.advance(seconds=1)
    assert run(sender.send_due()) == 1
    assert sorted(m.to for m in sink.wait_for(3)) == sorted([LEAD, COPY, COMPANY])
    assert [(r.status, r.attempts) for r in _rows(engine)] == [("sent", 1), ("sent", 2), ("sent", 1)]


def test_a_connection_dropped_mid_batch_is_retried_in_the_same_pass(engine, ctx, sink, clock):
    """The content of COPY's message got no reply: it and the envelope pipelined with it are sent
    again on a fresh connection at once; nothing is lost, no attempt is counted as failed."""
    _queue(engine, ctx, 4)
    sink.drop = {COPY}
    sender = OutboundSender(engine, ctx.settings.model_copy(update={"send_concurrency": 1, "send_quick_retries": 2}),
                            clock)
    assert run(sender.send_due()) == 12
    assert sorted(m.to for m in sink.wait_for(12)) == sorted([LEAD, COPY, COMPANY] * 4)
    assert len({m.peer for m in sink.messages}) == 2  # the broken connection was replaced
    assert all(r.status == "sent" and r.attempts == 1 for r in _rows(engine))


def test_kept_connections_closed_by_a_relay_restart_are_replaced_without_a_retry(engine, ctx, sink, clock):
    sender = OutboundSender(engine, ctx.settings.model_copy(update={"send_quick_retries": 1}), clock)

    async def restart_between_passes() -> tuple[int, int]:
        _queue(engine, ctx, 2)
        first = await sender.send_due()
        sink.stop()  # closes the kept connections while the sender sleeps
        sink.start()
        await asyncio.sleep(0.1)
        _queue(engine, ctx, 2)
        second = await sender.send_due()
        await sender.close()
        return first, second

    assert run(restart_between_passes()) == (6, 6)
    assert len(sink.wait_for(12)) == 12
    assert all(r.status == "sent" and r.attempts == 1 for r in _rows(engine))


def test_one_record_transaction_for_sent_failed_and_untouched_rows(engine, ctx, clock):
    """The lease and the record as the sender runs them: the sent rows and the rows given back
    untouched (the lease was about to run out) in one statement each, a failure on its own."""
    _queue(engine, ctx, 1)
    sender = OutboundSender(engine, ctx.settings, clock)
    leased = sender._lease_batch(clock(), clock() + timedelta(seconds=120), 10)
    assert [r.recipient for r in leased] == [LEAD, COPY, COMPANY] and all(r.raw for r in leased)
    lead, copy, company = leased
    sender._record([Outcome(lead), Outcome(copy, error=ConnectionError("reset")), Outcome(company, skipped=True)])
    by_to = {r.to_email: r for r in _rows(engine)}
    assert (by_to[LEAD].status, by_to[LEAD].attempts, by_to[LEAD].sent_at) == ("sent", 1, clock())
    assert (by_to[COPY].status, by_to[COPY].attempts, by_to[COPY].last_error) == ("pending", 1, "ConnectionError: reset")
    assert by_to[COPY].next_attempt_at > clock()
    assert (by_to[COMPANY].status, by_to[COMPANY].attempts) == ("pending", 0)
    assert all(r.lease_until is None for r in by_to.values())
    assert [r.recipient for r in sender._lease_batch(clock(), clock(), 10)] == [COMPANY]  # due again at once


def test_two_senders_on_one_database_never_send_the_same_row(engine, database_url, ctx, sink, clock):
    _queue(engine, ctx, 20)
    other_engine = make_engine(database_url)  # a second instance: its own engine and connections
    small = ctx.settings.model_copy(update={"send_batch_size": 5, "send_concurrency": 3})
    senders = [OutboundSender(engine, small, clock), OutboundSender(other_engine, small, clock)]

    async def both() -> None:
        tasks = [asyncio.create_task(s.run()) for s in senders]
        try:
            await asyncio.to_thread(sink.wait_for, 60)
            await asyncio.sleep(0.3)  # would a duplicate still arrive?
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    try:
        run(both())
    finally:
        other_engine.dispose()
    ids = Counter(str(m.msg["Message-ID"]) for m in sink.messages)
    assert len(ids) == 60 and set(ids.values()) == {1}
    assert all(r.status == "sent" and r.attempts == 1 for r in _rows(engine))


def test_the_record_transaction_leases_the_next_batch(engine, ctx, sink):
    """A busy sender spends one transaction per batch: recording a batch leases the next one, and
    the last one reads when to wake up (no extra empty lease, no separate next-retry query)."""
    sender = OutboundSender(engine, ctx.settings.model_copy(update={"send_batch_size": 3, "send_poll_s": 60.0}))
    begins: list[str] = []
    sa_event.listen(engine, "begin", lambda conn: begins.append(threading.current_thread().name))

    async def scenario() -> list[str]:
        task = asyncio.create_task(sender.run())
        try:
            await asyncio.sleep(0.2)  # idle: nothing queued yet
            await asyncio.to_thread(_queue, engine, ctx, 3)  # 9 rows: 3 batches
            begins.clear()
            sender.wake()
            await asyncio.to_thread(sink.wait_for, 9, 10)
            await asyncio.sleep(0.2)  # would it do anything more before sleeping?
            return [name for name in begins if name.startswith("notifier-sender-db")]
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    assert len(run(scenario())) == 4  # lease; record + lease, twice; record + next due
    assert all(r.status == "sent" and r.attempts == 1 and r.lease_until is None for r in _rows(engine))


def test_woken_after_a_commit_and_retries_when_due_without_waiting_for_the_poll(engine, ctx, sink):
    """The poll interval (60 s here) is only a safety net: a wake sends at once, a retry leaves
    when it is due."""
    slow_poll = ctx.settings.model_copy(update={"send_poll_s": 60.0, "send_retry_base_s": 0.3,
                                                "max_send_attempts": 5})
    sender = OutboundSender(engine, slow_poll)  # real clock: the queued rows are due
    sink.refuse = {COPY}

    def copy_attempts() -> int:
        return next(r.attempts for r in _rows(engine) if r.to_email == COPY)

    async def scenario() -> None:
        task = asyncio.create_task(sender.run())
        try:
            await asyncio.sleep(0.2)  # idle: nothing queued yet
            await asyncio.to_thread(_queue, engine, ctx, 1)
            sender.wake()  # what the handlers' after-commit hook does
            await asyncio.to_thread(sink.wait_for, 2, 10)
            await asyncio.to_thread(eventually, lambda: copy_attempts() > 0, timeout=10, interval=0.02)
            sink.refuse = set()
            await asyncio.to_thread(sink.wait_for, 3, 10)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    run(scenario())
    assert sorted(m.to for m in sink.messages) == sorted([LEAD, COPY, COMPANY])
    assert [(r.to_email, r.status) for r in _rows(engine)] == [(LEAD, "sent"), (COPY, "sent"), (COMPANY, "sent")]


def test_a_clean_stop_finishes_the_sends_in_flight_and_releases_the_rest(engine, ctx, sink):
    """SIGTERM in the middle of a batch: what was sent is recorded as sent (a cancelled pass would
    leave it leased, and the next process would send it again once the lease ends), what was not
    started is given back at once, not held until its lease runs out."""
    sender = OutboundSender(engine, ctx.settings.model_copy(update={"send_batch_size": 9, "send_concurrency": 1,
                                                                     "send_lease_s": 600.0}))
    sink.delay_s = 0.2  # a slow mail server: the stop comes while the batch is on the wire

    async def scenario() -> None:
        await asyncio.to_thread(_queue, engine, ctx, 3)  # 9 rows, one batch
        task = asyncio.create_task(sender.run())
        await asyncio.to_thread(sink.wait_for, 2, 10)
        await sender.stop()
        assert task.done()

    run(scenario())
    received = Counter(m.to for m in sink.snapshot())
    rows = _rows(engine)
    sent = [r for r in rows if r.status == "sent"]
    assert 2 <= len(sent) < 9, "the stop came too late to prove anything"
    assert sorted(received.elements()) == sorted(r.to_email for r in sent)  # every sent row recorded
    assert all(r.status == "pending" and r.lease_until is None and r.attempts == 0 for r in rows if r not in sent)
