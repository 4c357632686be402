"""Two instances of the matcher and two of the notifier on the same Redis and the same databases:
the guarantees hold (each request routed once, each participant mailed once) and the work is
really shared (both instances of each service consumed entries, seen in their own /metrics and in
Redis' view of the consumer group)."""

from __future__ import annotations

import threading
import time

import pytest
import redis as redis_sync

from shared.events import Streams
from tests.chaos.support import FAST_ENV, audit_run, metric, query, request_body
from tests.support.system import System, catalog_template

pytestmark = [pytest.mark.slow, pytest.mark.chaos, pytest.mark.timeout(240)]

N_REQUESTS = 30


def consumed(url: str, group: str, stream: str) -> float:
    return metric(url, "mlp_events_consumed_total", group=group, stream=stream, outcome="processed")


def test_two_matchers_and_two_notifiers_share_the_work_and_keep_the_guarantees(tmp_path, tmp_path_factory,
                                                                                 redis_url):
    catalog_db = catalog_template(tmp_path_factory.getbasetemp() / "chaos-catalog")
    system = System(tmp_path, redis_url, catalog_db=catalog_db, extra_env=FAST_ENV)
    system.start(parallel=True)
    second = [system.add_instance("matcher", wait=False), system.add_instance("notifier", wait=False)]
    r = redis_sync.Redis.from_url(redis_url)
    try:
        for proc in second:
            proc.wait_ready(180)
        ids: set[str] = set()
        lock = threading.Lock()

        def send(start: int) -> None:  # two clients at once, so both consumers find work waiting
            for i in range(start, N_REQUESTS, 2):
                response = system.submit(request_body(i, tag="scale"))
                assert response.status_code == 202, response.text
                with lock:
                    ids.add(response.json()["request_id"])

        clients = [threading.Thread(target=send, args=(k,)) for k in (0, 1)]
        for client in clients:
            client.start()
        for client in clients:
            client.join(60)
        assert len(ids) == N_REQUESTS
        system.wait_until(lambda: len(query(tmp_path / "notifier.db", "SELECT 1 FROM notifier_thread"))
                          == N_REQUESTS and not query(tmp_path / "notifier.db",
                                                      "SELECT 1 FROM notifier_outbound WHERE status != 'sent'"),
                          timeout=120, what="every request routed and mailed")
        time.sleep(1.5)  # would a late duplicate still arrive?
        audit = audit_run(tmp_path, r, system.sink.snapshot(), ids)
        matchers = [consumed(p.url, "matcher", Streams.REQUEST_SUBMITTED) for p in system.processes["matcher"]]
        notifiers = [consumed(p.url, "notifier", Streams.REQUEST_ROUTED) for p in system.processes["notifier"]]
        sent = [metric(p.url, "mlp_emails_sent_total") for p in system.processes["notifier"]]
        group_consumers = {c["name"].decode(): c for c in r.xinfo_consumers(Streams.REQUEST_SUBMITTED, "matcher")}
    finally:
        system.stop()
        r.close()
    print(f"\nSCALE-OUT requests_sent={N_REQUESTS} messages_checked={audit.messages} matcher_entries={matchers} "
          f"notifier_entries={notifiers} emails_sent_per_notifier={sent} republished_entries={audit.republished}")
    assert audit.problems == []
    # Every entry was processed exactly once across the two instances, and both took a share.
    # Every request was processed once across the two instances, and both took a share. (Entries
    # re-published by the two outbox relays are skipped as duplicates, not processed: see
    # test_relay_instances.py for that bug.)
    assert sum(matchers) == N_REQUESTS and min(matchers) > 0
    assert sum(notifiers) == N_REQUESTS and min(notifiers) > 0
    assert sum(sent) == audit.messages
    assert {"matcher-i0", "matcher-i1"} <= set(group_consumers)
    assert all(c["pending"] == 0 for c in group_consumers.values())
