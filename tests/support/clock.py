"""A clock that moves only when a test says so, to inject where production code takes a clock
(a ``datetime`` clock in the notifier, a ``time.time``-like one for the intake form's timing)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Generic, TypeVar

Now = TypeVar("Now", datetime, float)


class FakeClock(Generic[Now]):
    """``clock()`` answers ``now``; ``advance(seconds=…, days=…)`` moves it forward. Started from a
    ``datetime`` it tells datetimes; from a number, seconds since the epoch as ``time.time()`` does."""

    def __init__(self, start: Now) -> None:
        self.now = start

    def __call__(self) -> Now:
        return self.now

    def advance(self, **kw: float) -> None:
        step = timedelta(**kw)
        self.now = self.now + (step if isinstance(self.now, datetime) else step.total_seconds())
