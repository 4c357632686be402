"""CPU cost of the notifier's hot path, in process: one ``start_thread`` per routed request
(3 RBEs + the company, committed on SQLite as the stream handler does) and one ``compose``.

    .venv/bin/python -m tests.notifier.bench_thread                # 300 requests, 2000 composes
    .venv/bin/python -m tests.notifier.bench_thread --requests 1000 --profile
    .venv/bin/python -m tests.notifier.bench_thread --postgres     # the test PostgreSQL (client CPU only)

CPU time (``time.process_time``) rather than wall time: the machine is shared, and CPU is what
saturates the notifier. SQL statements are counted per request (``before_cursor_execute``), and
per email for the sender's lease + record transactions (no SMTP: outcomes are faked as sent).
Not a test (no ``test_`` prefix).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event as sa_event

from services.notifier.config import NotifierSettings
from services.notifier.migrations import SCHEMA as NOTIFIER_SCHEMA
from services.notifier.sender import OutboundSender, Outcome
from services.notifier.service import threads
from services.notifier.service.emails import OutgoingCopy, compose
from services.notifier.service.mailer import NotifierContext
from shared.contracts.events import RoutedRecipient
from shared.platform.db import make_engine, unit_of_work
from shared.platform.migrations import upgrade
from tests.notifier.support import routed_event


def realistic_event():
    """A typical routing: a lead and two copies, lycées with accented names, one company."""
    people = [("lead", "Marie Dupont", "marie.dupont@ac-lyon.fr", "Lycée professionnel François Rabelais"),
              ("copy", "Paul Martin", "paul.martin@ac-lyon.fr", "Lycée des métiers Jean Moulin"),
              ("copy", "Hélène Lefèvre", "helene.lefevre@ac-lyon.fr", "Lycée polyvalent Édouard Branly")]
    recipients = [RoutedRecipient(assignment_id=uuid.uuid4(), rbe_email=email, rbe_name=name, role=role,
                                  uais=["0690001A"], lycees=[lycee], distance_km=3.2)
                  for role, name, email, lycee in people]
    return routed_event(recipients=recipients)


def _count_statements(engine) -> list[int]:
    counter = [0]

    @sa_event.listens_for(engine, "before_cursor_execute")
    def _count(*_args) -> None:
        counter[0] += 1

    return counter


def bench_threads(engine, ctx: NotifierContext, requests: int, counter: list[int]) -> tuple[float, float]:
    events = [realistic_event() for _ in range(requests + 20)]
    for event in events[:20]:  # warm-up: compiled statements, templates, imports
        with unit_of_work(engine) as session:
            threads.start_thread(session, ctx, event)
    counter[0] = 0
    started = time.process_time()
    for event in events[20:]:
        with unit_of_work(engine) as session:
            threads.start_thread(session, ctx, event)
    cpu = time.process_time() - started
    return cpu / requests * 1000, counter[0] / requests


def bench_sender_db(engine, ctx: NotifierContext, counter: list[int], requests: int) -> dict[str, tuple[float, float]]:
    """The sender's database work only (lease, then record as sent and lease the next batch, or
    read when the next retry is due), per email: draining a backlog in batches of
    ``send_batch_size``, and in steady state (each request's copies leased by one pass)."""
    settings = ctx.settings
    sender = OutboundSender(engine, settings)

    def drain() -> int:  # as the sender's loop does: recording a batch leases the next one
        emails = 0
        now = datetime.now(UTC)
        rows = sender._lease_batch(now, now, settings.send_batch_size)
        while rows:
            ahead = sender._record([Outcome(row) for row in rows], settings.send_batch_size)
            emails += len(rows)
            rows = ahead.rows
        return emails

    figures = {}
    counter[0], started = 0, time.process_time()
    emails = drain()  # what bench_threads queued
    figures["backlog"] = ((time.process_time() - started) / emails * 1000, counter[0] / emails)
    cpu, statements, emails = 0.0, 0, 0
    for event in [realistic_event() for _ in range(requests)]:
        with unit_of_work(engine) as session:
            threads.start_thread(session, ctx, event)
        counter[0], started = 0, time.process_time()
        emails += drain()
        cpu += time.process_time() - started
        statements += counter[0]
    figures["steady"] = (cpu / emails * 1000, statements / emails)
    return figures


def sample_copy(ctx: NotifierContext) -> OutgoingCopy:
    """One RBE copy as start_thread queues it (template context included)."""
    from services.notifier.models import Participant, Thread, ThreadEntry
    from services.notifier.service.mailer import action_links, thread_context

    thread = Thread(token="0123456789", request_id=str(uuid.uuid4()), subject="[MonLycéePro] Boulangerie Exemple "
                    ": Accueil de stagiaires (PFMP) (Lyon)", root_message_id="<thread.0123456789@reponse.test>",
                    company_name="Boulangerie Exemple", needs="pfmp", request_summary='{"jobs": ["Boulanger"]}',
                    routed_at=datetime.now(UTC))
    lead = Participant(thread_id=thread.id, token="abcdef01", role="lead", email="marie.dupont@ac-lyon.fr",
                       name="Marie Dupont", label="Lycée François Rabelais")
    entry = ThreadEntry(thread_id=thread.id, kind="initial")
    context = {**thread_context(None, thread, [lead]), "recipient": lead, "entry": entry,  # type: ignore[arg-type]
               "actions": action_links(ctx, lead), "intro": "new"}
    return OutgoingCopy(to_email=lead.email, to_name=lead.name, mail_from=ctx.settings.mail_from,
                        reply_to="reply+0123456789.abcdef01.0123456789abcdef0123@reponse.test",
                        subject=thread.subject, message_id="<abc.abcdef01.0123456789@reponse.test>",
                        references=[thread.root_message_id], list_id=ctx.settings.list_id, template="rbe_request",
                        context=context, date=datetime.now(UTC))


def bench_compose(ctx: NotifierContext, copies: int) -> float:
    copy = sample_copy(ctx)
    for _ in range(50):
        compose(copy)
    started = time.process_time()
    for _ in range(copies):
        compose(copy)
    return (time.process_time() - started) / copies * 1000


def bench_reminder_pass(engine, ctx: NotifierContext, counter: list[int]) -> tuple[float, int, int]:
    """One reminder pass (``tasks.reminder_pass``) over the threads just created, none due yet:
    CPU ms of the pass, its SQL statements, the number of open threads."""
    from services.notifier.tasks import reminder_pass

    with engine.connect() as conn:
        open_threads = conn.exec_driver_sql("SELECT count(*) FROM notifier_thread").scalar_one()
    reminder_pass(engine, ctx)  # warm-up: compiled statements
    before, started = counter[0], time.process_time()
    counts = reminder_pass(engine, ctx)
    elapsed = time.process_time() - started
    assert not any(counts.values()), counts
    return elapsed * 1000, counter[0] - before, open_threads


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--copies", type=int, default=2000, help="compose calls measured")
    parser.add_argument("--profile", action="store_true", help="pyinstrument profile of the start_thread loop")
    parser.add_argument("--postgres", action="store_true", help="a fresh database on the test PostgreSQL")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp())
    url, drop = f"sqlite:///{tmp}/bench.db", None
    if args.postgres:  # the client's CPU only: the server's is not counted
        from tests.support.servers import create_postgres_database, postgres_admin_url
        url, drop = create_postgres_database(postgres_admin_url())
    settings = NotifierSettings(env="test", var_dir=tmp, database_url=url, notifier_url="http://notifier.test")
    engine = make_engine(url)
    upgrade(NOTIFIER_SCHEMA, engine)
    ctx = NotifierContext(settings=settings, clock=lambda: datetime.now(UTC))
    counter = _count_statements(engine)
    compose_ms = bench_compose(ctx, args.copies)
    if args.profile:
        from pyinstrument import Profiler
        profiler = Profiler(interval=0.0005)
        profiler.start()
    thread_ms, statements = bench_threads(engine, ctx, args.requests, counter)
    if args.profile:
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False))
    sender = bench_sender_db(engine, ctx, counter, args.requests)
    reminder_ms, reminder_statements, open_threads = bench_reminder_pass(engine, ctx, counter)
    engine.dispose()
    if drop is not None:
        drop()
    print(f"start_thread: {thread_ms:.2f} ms CPU/request, {statements:.1f} SQL statements/request "
          f"({args.requests} requests, 4 copies each, {engine.dialect.name}, commit included)")
    print(f"compose: {compose_ms:.3f} ms CPU/copy ({args.copies} copies)")
    for mode, (send_ms, send_statements) in sender.items():
        print(f"sender DB (lease + record), {mode}: {send_ms:.3f} ms CPU/email, "
              f"{send_statements:.2f} SQL statements/email")
    print(f"reminder pass, nothing due: {reminder_ms:.2f} ms CPU, {reminder_statements} SQL statements "
          f"over {open_threads} open threads (runs every MLP_REMINDERS_INTERVAL_S)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
