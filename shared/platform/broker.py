"""The Redis broker every process builds: faststream's own logging off, ours (structlog) only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faststream.redis import RedisBroker


def make_broker(url: str, middlewares: Sequence[Any] = ()) -> RedisBroker:
    """faststream documents ``logger=None`` to silence its logger, but its parameter types accept
    only a logger: the option goes through an untyped mapping rather than a silenced check."""
    silent: dict[str, Any] = {"logger": None}
    return RedisBroker(url, middlewares=middlewares, **silent)
