"""Poll until a condition holds: the one wait-for-it helper of the test suite.

``eventually(condition)`` calls ``condition()`` every ``interval`` seconds until it returns a truthy
value, and returns that value. After ``timeout`` seconds it raises an ``AssertionError`` naming
``what`` was awaited, how long, and the last value (or the last ignored exception) seen, so a
failing wait says what it was waiting for; ``what`` may be a function, called only then, to say
how far things got. ``eventually_async`` is the same for coroutines: it sleeps with
``asyncio.sleep``, so the event loop keeps running other tasks in the meantime.

Use it for real waits on real things (a process, a server, a stream); a test about timing logic
should advance a fake clock instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Generator
from typing import TypeVar

T = TypeVar("T")
Description = str | Callable[[], str]  # what is awaited, or a function saying it at the time of failure


def _polls(condition: Callable[[], T], timeout: float, interval: float, what: Description,
           ignoring: tuple[type[BaseException], ...]) -> Generator[float, None, T]:
    """Yields how long to sleep before the next try; returns the first truthy value, or raises."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except ignoring as exc:
            value = exc  # an ignored exception counts as "not yet"
        else:
            if value:
                return value
        if time.monotonic() >= deadline:
            described = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout:g} s waiting for {described} (last value: {value!r})")
        yield interval


def eventually(condition: Callable[[], T], *, timeout: float = 30.0, interval: float = 0.1,
               what: Description = "the condition", ignoring: tuple[type[BaseException], ...] = ()) -> T:
    """``condition()``'s first truthy value, polled every ``interval`` s for up to ``timeout`` s.

    ``ignoring``: exception types that mean "not yet" (a server not listening yet, say); any other
    exception propagates at once.
    """
    polls = _polls(condition, timeout, interval, what, ignoring)
    try:
        while True:
            time.sleep(next(polls))
    except StopIteration as done:
        return done.value


async def eventually_async(condition: Callable[[], T], *, timeout: float = 30.0,  # noqa: ASYNC109 - as eventually's
                           interval: float = 0.1, what: Description = "the condition",
                           ignoring: tuple[type[BaseException], ...] = ()) -> T:
    """``eventually`` inside a coroutine: waits with ``asyncio.sleep``, not blocking the loop.

    (A poll, not an ``asyncio.Event``: what it waits for happens in another process or thread.)
    """
    polls = _polls(condition, timeout, interval, what, ignoring)
    try:
        while True:  # noqa: ASYNC110 - polling is the point, see above
            await asyncio.sleep(next(polls))
    except StopIteration as done:
        return done.value
