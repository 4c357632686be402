"""The one way async code runs database work: on a named pool of threads, never on the event loop.

SQLAlchemy sessions here are synchronous. A query run inside ``async def`` would stop every other request of
the process while it waits on the database, so routes and background tasks hand it to a ``DbThreads``.
The caller's context variables (service name, correlation id) are copied to the thread, so log lines written
there keep them. The runtime owns one pool for routes (``ServiceRuntime.run_db``); a loop that must never
wait behind requests (the outbox relay, the notifier's sender) owns a pool of its own.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class DbThreads:
    def __init__(self, name: str, workers: int) -> None:
        self.name = name
        self.workers = workers
        self._pool: ThreadPoolExecutor | None = None

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._pool is None:  # created on first use: a process that never queries starts no thread
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix=self.name)
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None
