"""CPU time and SQL statements per call of intake's hot paths, in-process, on a fresh database.

    .venv/bin/python -m tests.intake.bench_handlers [--calls 400] [--rounds 5] [--warmup 300] [--batch 1] [--postgres]

Measured, each call in its own transaction as in production:

* ``accept``: ``IntakeContext.accept_sync`` of one valid body (validation, rate-limit count, request,
  timeline entry and outbox rows, commit);
* ``routed``: one ``RequestRouted`` (three recipients) through the stream handler, in one
  transaction with its processed-event key (``shared.platform.processing.handle_one``, as the consumer does);
* ``message``: one ``ThreadMessage`` (the notifier's acknowledgement) the same way.

``--batch N`` handles the events N at a time in one transaction (``handle_batch``, as the consumer
does under load); figures stay per event.

CPU is ``time.process_time`` of this process (the PostgreSQL server's own CPU is not counted);
statements are ``before_cursor_execute`` events (SQLite's ``BEGIN IMMEDIATE`` included, commits
not). Warm-up calls fill the tables first, so lookups run on non-empty indexes. Logs are at WARNING
so that log output is not measured. Not a test (no ``test_`` prefix).
"""

from __future__ import annotations

import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from services.intake.config import IntakeSettings
from services.intake.deps import IntakeContext
from services.intake.handlers import on_message, on_routed
from services.intake.migrations import SCHEMA as INTAKE_SCHEMA
from shared.contracts.events import RequestRouted, RoutedRecipient, ThreadMessage
from shared.platform.db import make_engine
from shared.platform.logging import configure_logging
from shared.platform.migrations import upgrade
from shared.platform.pilot_live import LivePilot
from shared.reference.geo import load_communes
from shared.reference.pilot import Pilot
from tests.intake.support import body
from tests.support.cpu_bench import bench_database, bench_parser, consume_all, measure

POSTAL_CODES = ["69007", "75011", "13001", "33000", "59000", "31000", "44000", "67000", "35000", "06000"]


def routed_event(request_id: str) -> RequestRouted:
    recipients = [
        RoutedRecipient(assignment_id=uuid.uuid4(), rbe_email=f"rbe{n}@ac-lyon.fr", role="lead" if n == 0 else "copy",
                        uais=[f"069000{n}A"], lycees=[f"Lycée professionnel numéro {n}"])
        for n in range(3)
    ]
    return RequestRouted(
        correlation_id="bench", request_id=uuid.UUID(request_id), routing_id=uuid.uuid4(),
        submitted_at=datetime.now(UTC), needs=["pfmp"], academie="Lyon", company_name="Boulangerie Dupont",
        contact={"name": "Jeanne Martin", "email": "jeanne.martin@boulangerie-dupont.fr"}, recipients=recipients,
    )


def acknowledgement(request_id: str) -> ThreadMessage:
    return ThreadMessage(
        correlation_id="bench", request_id=uuid.UUID(request_id), message_id=uuid.uuid4().hex,
        author_role="system", author_label="MonLycéePro", kind="acknowledgement", sent_at=datetime.now(UTC),
    )


def bench_context(url: str, tmp: Path) -> IntakeContext:
    """Intake's context on ``url`` with its tables, without HTTP parts; logs at WARNING."""
    configure_logging("intake", "WARNING")
    settings = IntakeSettings(env="test", database_url=url, var_dir=tmp, public_base_url="http://intake.test",
                              rate_limit_email=1000, log_level="WARNING")
    engine = make_engine(url)
    upgrade(INTAKE_SCHEMA, engine)
    return IntakeContext(runtime=SimpleNamespace(engine=engine), settings=settings,  # type: ignore[arg-type]
                         communes=load_communes(settings.data_dir), ip_limiter=None, signer=None,  # type: ignore[arg-type]
                         templates=None, pilot=LivePilot(Pilot()))  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    args = bench_parser().parse_args(argv)
    tmp = Path(tempfile.mkdtemp())
    url, drop = bench_database(args, tmp, "intake")
    ctx = bench_context(url, tmp)
    engine = ctx.runtime.engine
    total = args.warmup + args.rounds * args.calls
    bodies = [body(contact__email=f"contact{i}@entreprise{i % 97}.fr", location={"postal_code": POSTAL_CODES[i % 10]})
              for i in range(total)]
    ids: list[str] = []
    results = [measure(engine, "accept", lambda i: ids.append(ctx.accept_sync(bodies[i], "api", f"c{i}").request_id),
                       args.calls, args.warmup, args.rounds)]
    results.append(consume_all(engine, "routed", on_routed, [routed_event(i) for i in ids], args))
    results.append(consume_all(engine, "message", on_message, [acknowledgement(i) for i in ids], args))
    engine.dispose()
    if drop is not None:
        drop()
    print(f"db={engine.dialect.name} warmup={args.warmup} batch={args.batch}")
    for figures in results:
        print(figures.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
