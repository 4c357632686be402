"""CPU time and SQL statements per ``RequestSubmitted`` the matcher handles, in-process.

    .venv/bin/python -m tests.matcher.bench_flows [--calls 400] [--rounds 5] [--warmup 300] [--batch 1]
                                                  [--postgres] [--fake] [--empty-loads]

Each event goes through ``MatcherHandlers.on_request_submitted`` (build the query, route on the read
model, store the request, decision, assignments and monthly loads, stage ``RequestRouted``) in one
transaction with its processed-event key, as the consumer does (``--batch N``: N events a
transaction). The read model is the real catalog (data/, through the catalog's own loader) unless
``--fake`` (the small hand-made one of the unit tests). Requests come from distinct companies
(no follow-ups) in communes with lycées, for common jobs. Figures as in
``tests.intake.bench_handlers``: ``time.process_time`` of this process and ``before_cursor_execute``
events per event; ``routing`` is the in-memory decision alone, for comparison.

The monthly-load table starts with one row (count 0) per lycée of the catalog, as late in a month
when most lycées were asked once: routing reads the month's loads on every event, and that read
grows with the table (``--empty-loads`` starts it empty instead).
"""

from __future__ import annotations

import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

from services.matcher.catalog_client import ReadModelHolder
from services.matcher.config import MatcherSettings
from services.matcher.handlers import MatcherHandlers
from services.matcher.migrations import SCHEMA as MATCHER_SCHEMA
from services.matcher.models import MonthlyLoad
from services.matcher.service import flows
from shared.contracts.events import Contact, Location, RequestSubmitted
from shared.platform.db import make_engine, unit_of_work
from shared.platform.logging import configure_logging
from shared.platform.migrations import upgrade
from tests.matcher.fakes import make_snapshot
from tests.support.cpu_bench import bench_database, bench_parser, consume_all, measure

POSTAL_CODES = ["69007", "75011", "13001", "33000", "59000", "31000", "44000", "67000", "35000", "34000",
                "38000", "76000", "21000", "37000", "63000", "87000", "29200", "80000", "51100", "57000"]
JOBS = ["boulanger", "électricien", "cuisinier", "coiffeur", "maçon", "plombier", "vendeur", "serveur",
        "mécanicien automobile", "aide-soignant", "menuisier", "pâtissier"]


def request(i: int, fake: bool) -> RequestSubmitted:
    return RequestSubmitted(
        correlation_id=f"bench{i}", request_id=uuid.uuid4(), submitted_at=datetime.now(UTC), needs=["pfmp"],
        jobs=["boulanger" if fake else JOBS[i % len(JOBS)]], siret=None,
        location=Location(postal_code="69007" if fake else POSTAL_CODES[i % len(POSTAL_CODES)]),
        company_name=f"Entreprise {i}", contact=Contact(name="Camille Martin", email=f"contact{i}@entreprise{i}.fr"),
        message="Nous cherchons un stagiaire pour le printemps.", radius_km=30,
    )


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser()
    parser.add_argument("--fake", action="store_true", help="the unit tests' small catalog instead of data/")
    parser.add_argument("--empty-loads", action="store_true", help="no monthly-load rows at start")
    args = parser.parse_args(argv)
    configure_logging("matcher", "WARNING")
    tmp = Path(tempfile.mkdtemp())
    if args.fake:
        snapshot = make_snapshot()
    else:
        from tests.matcher.real_snapshot import build_real_catalog_snapshot
        snapshot = build_real_catalog_snapshot(tmp)
    url, drop = bench_database(args, tmp, "matcher")
    settings = MatcherSettings(env="test", database_url=url, var_dir=tmp, fallback_email="national@monlyceepro.test")
    engine = make_engine(url)
    upgrade(MATCHER_SCHEMA, engine)
    if not args.empty_loads:
        with unit_of_work(engine) as session:
            month = datetime.now(UTC).strftime("%Y-%m")
            session.add_all([MonthlyLoad(uai=ly.uai, month=month, count=0) for ly in snapshot.lycees])
    holder = ReadModelHolder()
    holder.install(snapshot, "bench")
    handlers = MatcherHandlers(holder, settings)
    events = [request(i, args.fake) for i in range(args.warmup + args.rounds * args.calls)]
    results = [consume_all(engine, "submitted", handlers.on_request_submitted, events, args)]
    queries = [flows.build_query(e) for e in events]
    model = holder.wait(1)
    results.append(measure(engine, "routing", lambda i: queries[i] and flows.run_decision(
        model, queries[i], settings, {}, datetime.now(UTC)), args.calls, args.warmup, args.rounds))
    engine.dispose()
    if drop is not None:
        drop()
    print(f"db={engine.dialect.name} catalog={'fake' if args.fake else 'real'} lycees={len(snapshot.lycees)} "
          f"load_rows={0 if args.empty_loads else len(snapshot.lycees)} warmup={args.warmup} batch={args.batch}")
    for figures in results:
        print(figures.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
