"""Two instances of the matcher and two of the notifier on the same Redis and the same databases:
the guarantees hold (each request routed once, each participant mailed once) and the work is
really shared (both instances of each service consumed entries, seen in their own /metrics and in
Redis' view of the consumer group).

How requests split between two instances is up to timing: one instance reading batches of up to
64 entries may take them all. So each instance first works alone while the other is paused
(SIGSTOP, taken only when it holds no SQLite write lock), which makes "both took a share" a fact;
then both run at once with two clients, which is where duplicates would appear."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from contextlib import contextmanager

import pytest
import redis as redis_sync

from shared.contracts.events import Streams
from tests.support.audit import audit_run, metric, query
from tests.support.eventually import eventually
from tests.support.system import FAST_ENV, System, catalog_template, request_body

pytestmark = [pytest.mark.slow, pytest.mark.chaos, pytest.mark.timeout(240)]

N_ALONE = 8  # requests handled by each instance while the other is paused
N_REQUESTS = 30  # in all: 2 × N_ALONE, then the rest with both instances running


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

        def send(numbers: range) -> None:
            for i in numbers:
                response = system.submit(request_body(i, tag="scale"))
                assert response.status_code == 202, response.text
                with lock:
                    ids.add(response.json()["request_id"])

        def all_mailed() -> None:
            eventually(lambda: len(query(tmp_path / "notifier.db", "SELECT 1 FROM notifier_thread"))
                       == len(ids) and not query(tmp_path / "notifier.db",
                                                 "SELECT 1 FROM notifier_outbound WHERE status != 'sent'"),
                       timeout=120, what="every request routed and mailed")

        for alone in (1, 0):  # instance 1 alone, then instance 0 alone
            with paused(tmp_path, [system.processes[name][1 - alone] for name in ("matcher", "notifier")]):
                send(range(len(ids), len(ids) + N_ALONE))
                all_mailed()
        start = len(ids)  # then both at once, two clients, so both consumers find work waiting
        clients = [threading.Thread(target=send, args=(range(start + k, N_REQUESTS, 2),)) for k in (0, 1)]
        for client in clients:
            client.start()
        for client in clients:
            client.join(60)
        assert len(ids) == N_REQUESTS
        all_mailed()
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
    assert sum(matchers) == N_REQUESTS and min(matchers) >= N_ALONE
    assert sum(notifiers) == N_REQUESTS and min(notifiers) >= N_ALONE
    assert sum(sent) == audit.messages
    assert {"matcher-i0", "matcher-i1"} <= set(group_consumers)
    assert all(c["pending"] == 0 for c in group_consumers.values())


@contextmanager
def paused(tmp_path, processes):
    """SIGSTOP ``processes`` while each holds no write lock on its service's SQLite database (a
    stopped holder would block its twin), SIGCONT on exit."""
    stopped = []
    try:
        for proc in processes:
            pid, database = proc.proc.pid, tmp_path / f"{proc.name}.db"
            for _ in range(100):
                os.kill(pid, signal.SIGSTOP)
                if _write_lock_free(database):
                    stopped.append(pid)
                    break
                os.kill(pid, signal.SIGCONT)  # caught inside a transaction: let it finish
                time.sleep(0.02)
            else:
                raise AssertionError(f"{proc.name} never let go of its database's write lock")
        yield
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)


def _write_lock_free(database) -> bool:
    connection = sqlite3.connect(database, timeout=0.05)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.rollback()
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        connection.close()
