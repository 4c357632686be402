"""Crashes and outages while requests flow through the whole system (real processes, real Redis,
real SMTP sink): SIGKILL of the matcher, the notifier and the intake's standalone outbox relay at
random moments, a Redis restart and a 15 s mail-server outage. At the end every request is routed
exactly once and every participant got exactly one message: nothing lost, nothing doubled."""

from __future__ import annotations

import os
import random
import time

import httpx
import pytest
import redis as redis_sync

from tests.support.audit import audit_run, metric, query
from tests.support.eventually import eventually
from tests.support.live import RelayProcess
from tests.support.system import FAST_ENV, Submitter, System, catalog_template

pytestmark = [pytest.mark.slow, pytest.mark.chaos, pytest.mark.timeout(280)]

N_REQUESTS = 40
SMTP_OUTAGE_S = 15  # longer than the chaos phase it overlaps


def test_kills_redis_restart_and_smtp_outage_lose_nothing_and_double_nothing(tmp_path, tmp_path_factory,
                                                                               persistent_redis):
    seed = int(os.environ.get("MLP_CHAOS_SEED", random.randrange(1_000_000)))
    rng = random.Random(seed)
    catalog_db = catalog_template(tmp_path_factory.getbasetemp() / "chaos-catalog")
    system = System(tmp_path, persistent_redis.url, catalog_db=catalog_db, extra_env=FAST_ENV)
    system.start(parallel=True, env={"intake": {"MLP_RELAY_ENABLED": "false"}})
    relay = RelayProcess("intake", {**system.env, "MLP_INSTANCE": "relay"}, system.logs / "intake-relay.log").start()
    r = redis_sync.Redis.from_url(persistent_redis.url)
    kills: list[str] = []
    submitter = Submitter(system, N_REQUESTS, interval=0.4)
    t0 = time.monotonic()
    phases: dict[str, float] = {}
    try:
        submitter.start()
        time.sleep(rng.uniform(0.3, 1.0))
        # The mail server goes down for at least 15 s; every crash below happens while mail piles up.
        system.sink.stop()
        outage_started = time.monotonic()
        for name in ("matcher", "notifier"):
            time.sleep(rng.uniform(1.0, 4.0))
            system.process(name).kill()
            kills.append(name)
            system.process(name).start(wait_ready=False)  # comes back while the flow goes on
        time.sleep(rng.uniform(0.5, 3.0))
        relay.kill()
        kills.append("intake-relay")
        time.sleep(rng.uniform(0.5, 2.0))  # requests accepted meanwhile wait in the outbox
        relay.start()
        time.sleep(rng.uniform(0.5, 3.0))
        persistent_redis.stop()
        kills.append("redis")
        time.sleep(rng.uniform(0.5, 2.0))
        persistent_redis.start()
        phases["chaos_done"] = time.monotonic() - t0
        submitter.join(timeout=120)
        assert not submitter.is_alive()
        time.sleep(max(0.0, SMTP_OUTAGE_S - (time.monotonic() - outage_started)))
        # The outage was felt: mail is waiting in the notifier's database, not lost.
        waiting = len(query(tmp_path / "notifier.db", "SELECT 1 FROM notifier_outbound WHERE status = 'pending'"))
        assert waiting > 0
        system.sink.start()
        for name in ("matcher", "notifier"):
            system.process(name).wait_ready(180)
        phases["outage_over"] = time.monotonic() - t0

        ids = set(submitter.accepted)
        assert submitter.errors == [] and len(ids) == N_REQUESTS
        eventually(lambda: len(query(tmp_path / "notifier.db", "SELECT 1 FROM notifier_outbound "
                                     "WHERE status != 'sent'")) == 0
                   and len(query(tmp_path / "notifier.db", "SELECT 1 FROM notifier_thread")) == N_REQUESTS,
                   timeout=120, what="every request routed and every email sent")
        eventually(lambda: all(httpx.get(url, timeout=5).json()["status"] == "routed"
                               for url in submitter.accepted.values()),
                   timeout=60, what="every status page shows the routing")
        phases["delivered"] = time.monotonic() - t0
        time.sleep(1.5)  # would a late duplicate still arrive?
        audit = audit_run(tmp_path, r, system.sink.snapshot(), ids)
        sent = metric(system.url("notifier"), "mlp_emails_sent_total")
    finally:
        relay.stop()
        system.stop()
        r.close()
    print(f"\nCHAOS seed={seed} requests_sent={N_REQUESTS} http_posts={submitter.posts} "
          f"processes_killed={len(kills)} ({', '.join(kills)}) smtp_outage_s={SMTP_OUTAGE_S} "
          f"mails_waiting_at_outage_end={waiting} routed={audit.routed} republished={audit.republished} messages_checked={audit.messages} sent_since_last_restart={sent:.0f} "
          f"phases={ {k: round(v, 1) for k, v in phases.items()} }")
    assert audit.problems == []
    assert audit.routed == N_REQUESTS and audit.messages >= 2 * N_REQUESTS
