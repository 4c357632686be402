"""The one way async code runs database work: on a named pool of threads, and on the event loop only for
a short SQLite write that can have the write lock at once.

SQLAlchemy sessions here are synchronous. A query run inside ``async def`` would stop every other request of
the process while it waits on the database, so routes and background tasks hand it to a ``DbThreads``.
The caller's context variables (service name, correlation id) are copied to the thread, so log lines written
there keep them. The runtime owns one pool for routes (``ServiceRuntime.run_db``); a loop that must never
wait behind requests (the outbox relay, the notifier's sender) owns a pool of its own.

``run_write`` is for the hottest writes (intake's group commit, the outbox relay's lease): on SQLite, the
database is a local file and such a transaction is a fraction of a millisecond of CPU with nothing to wait
for once the write lock is held. Handing it to a thread cost more than running it: the hop, then the
GIL passed back and forth between the thread and the event loop (intake under wrk: 0.65 → 0.48 ms of
CPU per accepted request, 0.41 with the WAL checkpointed apart, docs/benchmarks-changelog.md, B51). So it
runs on the event loop when the lock is free at once, and goes to a thread as before when it is not: the
loop never waits for a lock (shared/platform/sqlite_writes.py).
PostgreSQL's writes always go to a thread (a round trip is a wait).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from shared.platform.metrics import DB_WRITES
from shared.platform.sqlite_writes import WriteLockBusy, now_or_never

T = TypeVar("T")


class DbThreads:
    def __init__(self, name: str, workers: int, *, inline_writes: bool = False) -> None:
        self.name = name
        self.workers = workers
        self.inline_writes = inline_writes  # SQLite engines only (see run_write)
        self._pool: ThreadPoolExecutor | None = None
        if inline_writes:  # the counter's children, labelled once (labels() takes a lock and builds a key)
            self._ran_on_loop, self._ran_on_thread = DB_WRITES.labels(name, "loop"), DB_WRITES.labels(name, "thread")

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._pool is None:  # created on first use: a process that never queries starts no thread
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix=self.name)
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    async def run_write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn`` on the event loop if its first transaction gets SQLite's write lock at once, else on a thread.

        ``fn`` must begin that transaction before any other effect, and do nothing slow but the
        database: when the lock is taken, the call is made again from the start on a thread."""
        if self.inline_writes:
            try:
                result = contextvars.copy_context().run(_now_or_never, fn, args, kwargs)
            except WriteLockBusy:
                self._ran_on_thread.inc()
            else:
                self._ran_on_loop.inc()
                return result
        return await self.run(fn, *args, **kwargs)

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None


def _now_or_never(fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
    with now_or_never():
        return fn(*args, **kwargs)
