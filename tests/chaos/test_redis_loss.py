"""Redis loses its data in the middle of a flow of requests (FLUSHALL on a Redis without
persistence, as a failover to an empty replica would), while the matcher and the notifier are
frozen so that events are in flight: published, not yet read. The services recover their consumer
groups without a restart, `mlp_outbox_published_not_in_stream` shows the loss, the runbook's
command `monlyceepro replay --since 10m` republishes from the outboxes, and at the end every
request is routed exactly once and every participant got exactly one message.

It runs on PostgreSQL (a database per service, as in production) whenever one answers
(MLP_TEST_POSTGRES_URL, or 127.0.0.1:5432: CI has one), on SQLite otherwise; the backend used is
printed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
import redis as redis_sync

from shared.platform.replay import CLOCK_SLACK_S
from tests.support.audit import audit_run, metric, query, service_db
from tests.support.eventually import eventually
from tests.support.live import ROOT
from tests.support.servers import RedisServer
from tests.support.system import FAST_ENV, Submitter, System, catalog_template, copy_catalog

pytestmark = [pytest.mark.slow, pytest.mark.chaos, pytest.mark.timeout(300)]

N_REQUESTS = 30
NOT_IN_STREAM = "mlp_outbox_published_not_in_stream"


def test_redis_flushed_mid_flow_then_replayed_loses_no_email_and_doubles_none(tmp_path, tmp_path_factory,
                                                                              system_database_url):
    database_url, backend = system_database_url, "postgresql" if system_database_url else "sqlite"
    redis_server = RedisServer().start()  # no AOF: a flush or a failover loses everything
    catalog_db = catalog_template(tmp_path_factory.getbasetemp() / "chaos-catalog")
    # The matcher and the notifier are frozen (SIGSTOP) for several seconds below, to keep events unread
    # in Redis. A frozen sender must not outlive its lease or its SMTP timeout while a batch is in flight:
    # FAST_ENV's 5 s lease and 3 s timeout would have it resend, after SIGCONT, mails the sink already has
    # (at-least-once SMTP, what a lease allows). Production's are 120 s and 15 s.
    env = {**FAST_ENV, "MLP_SEND_LEASE_S": "60", "MLP_SMTP_TIMEOUT_S": "30"}
    system = System(tmp_path, redis_server.url, catalog_db=catalog_db, extra_env=env, database_url=database_url)
    matcher_db, notifier_db = (service_db(tmp_path, name, database_url) for name in ("matcher", "notifier"))
    r = redis_sync.Redis.from_url(redis_server.url)
    frozen: list[int] = []
    submitter = Submitter(system, N_REQUESTS, interval=0.25)
    phases: dict[str, float] = {}
    try:
        if database_url:  # the schemas first (docs/operations.md), then the catalog's data
            migrated = subprocess.run([sys.executable, "-m", "services.cli", "migrate"], cwd=ROOT, env=system.env,
                                      capture_output=True, text=True, timeout=120)
            assert migrated.returncode == 0, migrated.stdout + migrated.stderr
            copy_catalog(catalog_db, service_db(tmp_path, "catalog", database_url))
        system.start(parallel=True)
        t0 = time.monotonic()
        submitter.start()
        eventually(lambda: len(submitter.accepted) >= N_REQUESTS // 3, timeout=60, what="a third accepted")
        # Freeze the consumers of request.submitted and request.routed: what intake and the matcher
        # publish from now on stays unread in Redis, then is lost with it.
        for name in ("matcher", "notifier"):
            pid = system.process(name).proc.pid
            os.kill(pid, signal.SIGSTOP)
            frozen.append(pid)
        frozen_at = time.monotonic()
        eventually(lambda: len(submitter.accepted) >= 2 * N_REQUESTS // 3, timeout=60, what="two thirds accepted")
        time.sleep(max(0.0, CLOCK_SLACK_S + 1 - (time.monotonic() - frozen_at)))
        in_flight = r.xlen("mlp.request.submitted")
        r.flushall()
        phases["flushed"] = time.monotonic() - t0
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
        frozen.clear()
        submitter.join(timeout=120)
        assert not submitter.is_alive()
        ids = set(submitter.accepted)
        assert submitter.errors == [] and len(ids) == N_REQUESTS

        # The services recovered their groups by themselves (no restart) and route what came after
        # the flush; the requests lost with Redis are seen as lost, not silently forgotten.
        eventually(lambda: metric(system.url("intake"), NOT_IN_STREAM, service="intake") > 0, timeout=30,
                   what="intake sees published events missing from mlp.request.submitted")
        eventually(lambda: {g["name"].decode() for g in r.xinfo_groups("mlp.request.submitted")} == {"matcher"},
                   timeout=30, what="the matcher's group recreated without a restart",
                   ignoring=(redis_sync.ResponseError,))
        routed_before_replay = len(query(matcher_db, "SELECT 1 FROM matcher_routing_decision"))
        phases["loss_seen"] = time.monotonic() - t0

        # The runbook's command (docs/operations.md#redis-perdu).
        result = subprocess.run([sys.executable, "-m", "services.cli", "replay", "--since", "10m"], cwd=ROOT,
                                env=system.env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        print(result.stdout)
        phases["replayed"] = time.monotonic() - t0

        eventually(lambda: len(query(notifier_db, "SELECT 1 FROM notifier_outbound WHERE status != 'sent'")) == 0
                   and len(query(notifier_db, "SELECT 1 FROM notifier_thread")) == N_REQUESTS,
                   timeout=90, what="every request routed and every email sent")
        eventually(lambda: all(httpx.get(url, timeout=5).json()["status"] == "routed"
                               for url in submitter.accepted.values()),
                   timeout=60, what="every status page shows the routing")
        for name in ("intake", "matcher", "notifier", "catalog"):
            eventually(lambda name=name: metric(system.url(name), NOT_IN_STREAM, service=name) == 0, timeout=30,
                       what=f"{name}: streams and outbox agree again")
        phases["delivered"] = time.monotonic() - t0
        time.sleep(1.5)  # would a late duplicate still arrive?
        audit = audit_run(tmp_path, r, system.sink.snapshot(), ids, database_url=database_url)
        duplicates = metric(system.url("matcher"), "mlp_events_consumed_total", group="matcher",
                            stream="mlp.request.submitted", outcome="duplicate")
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
        system.stop()
        r.close()
        redis_server.stop()
    print(f"\nREDIS-LOSS backend={backend} requests={N_REQUESTS} submitted_in_flight_at_flush={in_flight} "
          f"routed_before_replay={routed_before_replay} replays_skipped_by_matcher={duplicates:.0f} "
          f"routed={audit.routed} messages_checked={audit.messages} "
          f"phases={ {k: round(v, 1) for k, v in phases.items()} }")
    assert in_flight > 0, "nothing was in flight: the test proved nothing"
    assert routed_before_replay < N_REQUESTS, "the flush lost nothing the replay had to bring back"
    assert audit.problems == []
    assert audit.routed == N_REQUESTS and audit.messages >= 2 * N_REQUESTS
