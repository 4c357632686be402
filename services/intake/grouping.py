"""Group commit for the front door: requests accepted at the same moment share one transaction.

Every accepted request used to cost its own thread hop, its own SQLite write lock and its own
commit, and under a launch-day burst those requests queued on the lock one by one. Here the
first caller starts a drain task; while that task writes a batch on a database thread, new
callers only append to the queue, and the next round takes all of them at once. At low load a
batch holds one request, so nobody waits for a timer; under load batches grow by themselves.

The writer decides what one batch means (one transaction, and what happens when it fails);
this class only groups callers and hands each one its own outcome, result or exception.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


class GroupCommit(Generic[Item, Outcome]):
    def __init__(
        self,
        write: Callable[[Sequence[Item]], Awaitable[Sequence[Outcome | BaseException]]],
        max_batch: int = 64,
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._queue: list[tuple[Item, asyncio.Future]] = []
        self._drain: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def submit(self, item: Item) -> Outcome:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (an app restarted in tests): old waiters are gone
            self._loop, self._queue, self._drain = loop, [], None
        future: asyncio.Future = loop.create_future()
        # A caller that went away (client disconnected) never reads its outcome: mark it read, so
        # asyncio does not report an exception "never retrieved".
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._queue.append((item, future))
        if self._drain is None or self._drain.done():
            self._drain = loop.create_task(self._run())
        # shield: a client that disconnects must not cancel the future the drain task will resolve
        return await asyncio.shield(future)

    async def _run(self) -> None:
        batch: list[tuple[Item, asyncio.Future]] = []
        try:
            while self._queue:
                batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
                outcomes = await self._write([item for item, _ in batch])
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if isinstance(outcome, BaseException):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
                batch = []
        except BaseException as exc:  # the writer itself failed, or shutdown cancelled us
            for _, future in batch + self._queue:
                if not future.done():
                    future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("arrêt du service"))
            self._queue = []
            if not isinstance(exc, Exception):
                raise
