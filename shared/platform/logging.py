"""structlog JSON logs with a ``correlation_id`` bound per HTTP request or stream message.

Personal data never reaches a log line: email addresses are masked by a processor,
so even a careless ``log.info(email=...)`` only shows ``j***@example.fr``.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog

from shared.platform.ids import uuid4_hex

EMAIL_RE = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_configured = False
_generation = 0


def mask_email(value: str) -> str:
    return EMAIL_RE.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", value)


def _mask_personal_data(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        if isinstance(value, str) and "@" in value:
            event_dict[key] = mask_email(value)
    return event_dict


def configure_logging(service: str, level: str = "INFO", json: bool = True) -> None:
    global _configured, _generation
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _mask_personal_data,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    _configured = True
    _generation += 1  # loggers bound under the previous configuration rebind on their next call


class _Logger:
    """A module's logger. structlog's lazy proxy (``cache_logger_on_first_use=False``, so that a new
    ``configure_logging`` applies to loggers created before it) builds a new bound logger on every
    call, a cost paid on each request even for filtered-out levels. This one keeps its bound logger
    until ``configure_logging`` runs again."""

    __slots__ = ("_name", "_generation", "_bound")

    def __init__(self, name: str | None) -> None:
        self._name = name
        self._generation = -1
        self._bound: Any = None

    def __getattr__(self, attr: str) -> Any:
        if self._generation != _generation:
            self._bound = structlog.get_logger(self._name).bind()
            self._generation = _generation
        return getattr(self._bound, attr)


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return _Logger(name)  # type: ignore[return-value]


def new_correlation_id() -> str:
    return uuid4_hex()


def current_correlation_id() -> str | None:
    return structlog.contextvars.get_contextvars().get("correlation_id")


@contextmanager
def correlation_scope(correlation_id: str | None) -> Iterator[str]:
    """Bind a correlation id for the duration of a request or a message."""
    cid = correlation_id or new_correlation_id()
    # Tokens rather than structlog's bound_contextvars, which copies the whole context to save
    # what it overrides; resetting the token restores the previous value (or its absence) the same.
    tokens = structlog.contextvars.bind_contextvars(correlation_id=cid)
    try:
        yield cid
    finally:
        structlog.contextvars.reset_contextvars(**tokens)
