"""The rolling upgrade of docs/operations.md ("Upgrade"), followed under traffic: a client keeps
submitting requests while each service in turn is stopped cleanly (SIGTERM), migrated with
`monlyceepro migrate SERVICE` and restarted, and the next one waits until it answers /readyz.
At the end every accepted request is routed exactly once and every participant got exactly one
message: nothing lost, nothing doubled.

It runs on PostgreSQL (a database per service, as in production) whenever one answers
(MLP_TEST_POSTGRES_URL, or 127.0.0.1:5432: CI has one), on SQLite otherwise; the backend used is
printed.

The migrate step applies a real revision for intake and the notifier: while each of them is stopped,
its database is taken one revision back (`alembic downgrade -1`: the schema of the previous release,
without intake's 0005 `intake_outcome` / the notifier's 0005 `notifier_outcome_question`, both still
empty at that point), so `monlyceepro migrate SERVICE` finds it behind and applies the head revision
while the three other services run under traffic. What this does not show: the *previous release's
code* running on the older schema before its stop. The test has one version of the code, which
refuses to start on a schema older than its own (`check_schema`); the previous release (the parent of
the commit that added these revisions) differs in much more than the schema. That each revision
stays compatible with the previous release is the expand/contract rule of docs/operations.md,
checked in review."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis as redis_sync
from alembic import command

from services.cli import SCHEMAS
from shared.platform.db import make_engine
from shared.platform.migrations import alembic_config, current_revisions, heads
from tests.support.audit import audit_run, query, service_db
from tests.support.eventually import eventually
from tests.support.live import ROOT
from tests.support.system import FAST_ENV, Submitter, System, catalog_template, copy_catalog

pytestmark = [pytest.mark.slow, pytest.mark.chaos, pytest.mark.timeout(300)]

# The order of the procedure: the catalog (read by the others), then intake, the matcher and the
# notifier, i.e. the order `monlyceepro migrate` and `up` use.
ORDER = ("catalog", "intake", "matcher", "notifier")
MAX_REQUESTS = 400  # an upper bound: the client stops a few requests after the last restart
AFTER_LAST_RESTART = 4  # requests accepted once every service runs its new version
# Services whose database is taken one revision back while stopped, so that their migrate step applies
# their head revision (each adds a table that is still empty during the run).
BEHIND = {"intake": "intake_outcome", "notifier": "notifier_outcome_question"}


def one_revision_back(database: Path | str, service: str, table: str) -> str:
    """`alembic downgrade -1` on a stopped service's database; returns the revision it is now at."""
    engine = make_engine(database if isinstance(database, str) else f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() == 0, table
        with engine.begin() as connection:
            command.downgrade(alembic_config(SCHEMAS[service], connection=connection), "-1")
            (revision,) = current_revisions(connection)
    finally:
        engine.dispose()
    assert (revision,) != heads(SCHEMAS[service])
    return revision


def monlyceepro(env: dict[str, str], *args: str) -> str:
    """The documented command (`monlyceepro …` is `python -m services.cli …`)."""
    result = subprocess.run([sys.executable, "-m", "services.cli", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"monlyceepro {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result.stdout


def test_each_service_stopped_migrated_restarted_in_turn_under_traffic_loses_nothing(tmp_path, tmp_path_factory,
                                                                                  redis_url, system_database_url):
    database_url = system_database_url
    t0 = time.monotonic()
    catalog_db = catalog_template(tmp_path_factory.getbasetemp() / "chaos-catalog")
    system = System(tmp_path, redis_url, catalog_db=catalog_db, extra_env=FAST_ENV, database_url=database_url)
    backend = "postgresql" if database_url else "sqlite"
    # Install: the schemas first (docs/operations.md), then the catalog's data, then the services.
    monlyceepro(system.env, "migrate")
    if database_url:
        copy_catalog(catalog_db, service_db(tmp_path, "catalog", database_url))
    notifier_db, phases = service_db(tmp_path, "notifier", database_url), {"installed": time.monotonic() - t0}
    r = redis_sync.Redis.from_url(redis_url)
    # Intake's own restart leaves the client without an answer: it retries (same Idempotency-Key)
    # for up to 2 minutes; a request counts only once intake answered 202.
    submitter = Submitter(system, MAX_REQUESTS, interval=0.4, tries=1200, retry_s=0.1)
    steps: list[dict] = []
    try:
        system.start(parallel=True)
        phases["started"] = time.monotonic() - t0
        submitter.start()
        eventually(lambda: len(submitter.accepted) >= 5, timeout=60, what="traffic flowing")
        for name in ORDER:
            process = system.process(name)
            accepted_before, posts_before, down_at = len(submitter.accepted), submitter.posts, time.monotonic()
            # 1. Stop it cleanly: SIGTERM, it finishes what it holds and exits (uvicorn exits
            # through the signal it handled: -15).
            process.proc.terminate()
            exit_code = process.proc.wait(30)
            process.stop()  # closes its log
            clean = '"service_stopped"' in system.log_lines(name)[-1]
            behind = None
            if name in BEHIND:  # the previous release's schema (see the module's docstring)
                behind = one_revision_back(service_db(tmp_path, name, database_url), name, BEHIND[name])
            # 2. Migrate its database (what the new version needs; compatible with the old one).
            migrated = monlyceepro(system.env, "migrate", name)
            # 3. Start it again (the new version) and wait until it is ready before the next one.
            process.start(wait_ready=False)
            process.wait_ready(180)
            steps.append({"service": name, "exit_code": exit_code, "clean_stop": clean, "down_s": round(time.monotonic() - down_at, 1),
                          "accepted_meanwhile": len(submitter.accepted) - accepted_before,
                          "posts_meanwhile": submitter.posts - posts_before, "behind": behind, "migrate": migrated.strip()})
        phases["rolled"] = time.monotonic() - t0
        accepted_at_end = len(submitter.accepted)
        eventually(lambda: len(submitter.accepted) >= accepted_at_end + AFTER_LAST_RESTART, timeout=60,
                   what="requests accepted after the last restart")
        submitter.finish()
        submitter.join(timeout=60)
        assert not submitter.is_alive()
        ids = set(submitter.accepted)
        assert submitter.errors == []

        eventually(lambda: len(query(notifier_db, "SELECT 1 FROM notifier_outbound WHERE status != 'sent'")) == 0
                   and len(query(notifier_db, "SELECT 1 FROM notifier_thread")) == len(ids),
                   timeout=120, what="every request routed and every email sent")
        eventually(lambda: all(httpx.get(url, timeout=5).json()["status"] == "routed"
                               for url in submitter.accepted.values()),
                   timeout=60, what="every status page shows the routing")
        phases["delivered"] = time.monotonic() - t0
        time.sleep(1.5)  # would a late duplicate still arrive?
        audit = audit_run(tmp_path, r, system.sink.snapshot(), ids, database_url=database_url)
    finally:
        submitter.finish()
        system.stop()
        r.close()
    print(f"\nROLLING-UPGRADE backend={backend} requests_accepted={len(ids)} http_posts={submitter.posts} "
          f"retried_while_intake_down={submitter.retried} routed={audit.routed} messages_checked={audit.messages} "
          f"phases={ {k: round(v, 1) for k, v in phases.items()} }")
    for step in steps:
        print(f"  {step}")
    # Each stop was clean (SIGTERM handled, the shutdown logged, not killed), each migrate ran on
    # that service's database.
    assert all(s["exit_code"] in (0, -signal.SIGTERM) and s["clean_stop"] for s in steps), steps
    assert all(s["service"] in s["migrate"] for s in steps)
    # intake's and the notifier's migrate applied their head revision for real (e.g. "0004 → 0005").
    for s in steps:
        if s["service"] in BEHIND:
            head = heads(SCHEMAS[s["service"]])[0]
            assert f"{s['behind']} → {head}" in s["migrate"], s
        else:
            assert "à jour" in s["migrate"], s
    # Requests kept arriving during every restart: accepted while a back-end service was down,
    # retried by the client while intake itself was down.
    assert all(s["accepted_meanwhile"] > 0 for s in steps if s["service"] != "intake"), steps
    assert submitter.retried > 0, "intake's restart went unnoticed: the test proved nothing about it"
    assert audit.problems == []
    assert audit.routed == len(ids) and audit.messages >= 2 * len(ids)
