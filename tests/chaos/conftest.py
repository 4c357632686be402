"""Fixtures of the chaos suite (its processes and helpers are in tests/support)."""

from __future__ import annotations

import pytest

from tests.support.servers import RedisServer


@pytest.fixture
def persistent_redis():
    """A private Redis with an fsynced append-only file, so a restart keeps streams and groups."""
    server = RedisServer(persistent=True).start()
    yield server
    server.stop()
