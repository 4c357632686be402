"""Group commit of concurrent accepts: many requests, one transaction, each caller its own outcome.

The queueing logic runs against a fake writer (its own unit); the accept path runs on the real
app, database (SQLite and PostgreSQL) and Redis, with requests submitted in the app's event loop.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from sqlmodel import Session, select

from services.intake import metrics
from services.intake.grouping import GroupCommit
from services.intake.models import CompanyRequest
from services.intake.service.submission import RateLimited
from tests.intake.support import body, counts, engine_of


# ------------------------------------------------------------- queueing (fake writer)
class RecordingWriter:
    def __init__(self, fail_on: object = None) -> None:
        self.batches: list[list] = []
        self.fail_on = fail_on

    async def __call__(self, items):
        self.batches.append(list(items))
        await asyncio.sleep(0.01)  # a database round trip: new callers queue meanwhile
        if self.fail_on in items:
            raise OSError("disque plein")
        return [ValueError(i) if i < 0 else i * 10 for i in items]


async def test_callers_arriving_together_share_a_batch_and_get_their_own_outcome():
    writer = RecordingWriter()
    group = GroupCommit(writer, max_batch=4)
    results = await asyncio.gather(*(group.submit(i) for i in (1, 2, -3, 4, 5, 6)), return_exceptions=True)
    assert results[:2] == [10, 20] and results[3:] == [40, 50, 60]
    assert isinstance(results[2], ValueError)
    assert writer.batches == [[1, 2, -3, 4], [5, 6]]


async def test_a_lone_caller_is_written_at_once_and_later_callers_start_a_new_drain():
    writer = RecordingWriter()
    group = GroupCommit(writer)
    assert await group.submit(1) == 10
    assert await group.submit(2) == 20
    assert writer.batches == [[1], [2]]


async def test_a_failing_writer_fails_its_batch_and_the_queue_but_not_later_callers():
    writer = RecordingWriter(fail_on=2)
    group = GroupCommit(writer, max_batch=2)
    results = await asyncio.gather(*(group.submit(i) for i in (1, 2, 3)), return_exceptions=True)
    assert all(isinstance(r, OSError) for r in results)
    assert await group.submit(4) == 40


def test_a_new_event_loop_starts_afresh():
    writer = RecordingWriter()
    group = GroupCommit(writer)
    assert asyncio.run(group.submit(1)) == 10
    assert asyncio.run(group.submit(2)) == 20


# ------------------------------------------------------------- the real accept path
def _accept_together(client, bodies: list[dict]) -> list:
    ctx = client.app.state.intake

    async def together():
        return await asyncio.gather(*(ctx.accept(b, "api", f"corr-{i}") for i, b in enumerate(bodies)),
                                    return_exceptions=True)

    return client.portal.call(together)


def _batches() -> tuple[float, float]:
    samples = {s.name: s.value for s in metrics.ACCEPT_BATCH_SIZE.collect()[0].samples}
    return samples["mlp_intake_accept_batch_size_count"], samples["mlp_intake_accept_batch_size_sum"]


def test_concurrent_requests_are_stored_in_one_transaction_each_with_its_outbox_event(database_url, make_client):
    client = make_client(database_url)
    bodies = [body(contact={"name": f"Contact {i}", "email": f"contact{i}@entreprise-{i}.fr"}) for i in range(20)]
    count_before, sum_before = _batches()
    results = _accept_together(client, bodies)
    assert len({r.request_id for r in results}) == 20
    assert counts(client) == (20, 20)
    assert _batches() == (count_before + 1, sum_before + 20)
    with Session(engine_of(client)) as session:
        stored = {r.id: r.correlation_id for r in session.exec(select(CompanyRequest)).all()}
    assert {stored[r.request_id] for r in results} == {f"corr-{i}" for i in range(20)}


def test_the_email_limit_counts_the_requests_earlier_in_the_same_batch(database_url, make_client):
    client = make_client(database_url, rate_limit_email=5)
    results = _accept_together(client, [body() for _ in range(7)])
    accepted = [r for r in results if not isinstance(r, Exception)]
    assert len(accepted) == 5
    assert all(isinstance(r, RateLimited) for r in results[5:])
    assert counts(client) == (5, 5)


@pytest.mark.parametrize("bad_at", [0, 3])
def test_a_request_that_fails_while_staged_fails_alone_and_the_batch_is_retried_one_by_one(
        database_url, make_client, bad_at):
    """An unexpected error (here a missing correlation id, which the event refuses) rolls the shared
    transaction back; every other request is then written in its own transaction and accepted."""
    from pydantic import ValidationError

    from services.intake.deps import Accepting

    client = make_client(database_url)
    ctx = client.app.state.intake
    items = [Accepting(ctx.qualify(body(contact={"name": "C", "email": f"c{i}@entreprise.fr"})), "api",
                       None if i == bad_at else f"corr-{i}") for i in range(5)]
    outcomes = ctx.accept_batch_sync(items)
    assert isinstance(outcomes[bad_at], ValidationError)
    assert sum(1 for o in outcomes if not isinstance(o, Exception)) == 4
    assert counts(client) == (4, 4)


def test_two_instances_accepting_the_same_address_at_once_keep_its_limit_on_postgresql(postgres_url, make_client):
    """Two instances' transactions for one address: the second one's count waits for the first's
    commit (advisory lock per address), then refuses. Without the lock, READ COMMITTED let each count
    the other's request as absent and both went through."""
    from datetime import UTC, datetime

    from services.intake.deps import Accepting
    from services.intake.service.submission import write_staged

    client = make_client(postgres_url, rate_limit_email=1)
    ctx = client.app.state.intake
    now = datetime.now(UTC)
    first, second = (ctx._stage(Accepting(ctx.qualify(body()), "api", f"corr-{i}"), now) for i in range(2))
    engine = engine_of(client)
    outcomes: list = []

    def other_instance() -> None:
        with engine.begin() as connection:
            outcomes.extend(write_staged(connection, [second], email_limit=1, email_window_s=3600, now=now))

    with engine.connect() as connection:
        transaction = connection.begin()
        assert not isinstance(write_staged(connection, [first], email_limit=1, email_window_s=3600, now=now)[0],
                              Exception)
        racer = threading.Thread(target=other_instance)
        racer.start()
        racer.join(timeout=1.0)
        assert racer.is_alive(), "the second instance counted before the first committed"
        transaction.commit()
    racer.join(timeout=10)
    assert not racer.is_alive()
    assert len(outcomes) == 1 and isinstance(outcomes[0], RateLimited)
    assert counts(client) == (1, 1)


def test_accepted_requests_wait_on_a_thread_while_another_process_writes_and_are_stored_once(tmp_path, make_client):
    """On SQLite the batch is written on the event loop when the write lock is free. Held by another
    process (a standalone relay, a CLI), the whole batch goes to a database thread, waits there, and
    each request is stored once: the attempt on the loop wrote nothing."""
    import sqlite3

    from shared.platform.metrics import DB_WRITES

    path = tmp_path / "locked.db"
    client = make_client(f"sqlite:///{path}")
    bodies = [body(contact={"name": f"Contact {i}", "email": f"contact{i}@entreprise-{i}.fr"}) for i in range(8)]
    on_thread = DB_WRITES.labels("intake-db", "thread")._value.get()
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, other.execute, ["COMMIT"])
    release.start()
    try:
        results = _accept_together(client, bodies)
    finally:
        release.join()
        other.close()
    assert len({r.request_id for r in results}) == 8
    assert counts(client) == (8, 8)
    assert DB_WRITES.labels("intake-db", "thread")._value.get() == on_thread + 1
    # The lock free again: back on the loop. The relay or the WAL checkpoint may hold it a moment (that
    # write then goes to a thread too), so a few tries.
    on_loop = DB_WRITES.labels("intake-db", "loop")._value.get()
    for i in range(20):
        assert _accept_together(client, [body(contact={"name": "C", "email": f"after{i}@entreprise.fr"})])[0].request_id
        if DB_WRITES.labels("intake-db", "loop")._value.get() > on_loop:
            break
        time.sleep(0.05)
    assert DB_WRITES.labels("intake-db", "loop")._value.get() > on_loop


def test_the_runtime_checkpoints_the_wal_that_inline_commits_leave(tmp_path, make_client, monkeypatch):
    """Commits on the event loop never checkpoint; the runtime's task does, on a thread: after it ran,
    the next write starts the WAL over instead of appending to every write since the start."""
    import sqlite3

    import shared.platform.service as service

    monkeypatch.setattr(service, "WAL_CHECKPOINT_S", 0.1)
    path = tmp_path / "wal.db"
    client = make_client(f"sqlite:///{path}")
    bodies = [body(contact={"name": f"C {i}", "email": f"c{i}@entreprise-{i}.fr"}) for i in range(300)]
    for start in range(0, 300, 30):
        _accept_together(client, bodies[start:start + 30])
    time.sleep(0.6)
    _accept_together(client, [body()])  # the first write after the checkpoint: the WAL starts over

    probe = sqlite3.connect(path)
    try:
        busy, in_wal, _ = probe.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        probe.close()
    # One request's pages, not the 300 requests' (~550 frames without the task: SQLite's own checkpoint
    # at 1 000 frames would not have come either)
    assert busy == 0 and in_wal < 100, in_wal
    assert counts(client) == (301, 301)
