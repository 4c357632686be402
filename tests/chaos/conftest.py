"""Fixtures of the chaos suite (its processes and helpers are in tests/support)."""

from __future__ import annotations

import pytest

from shared.platform.settings import SERVICES
from tests.support.servers import RedisServer, create_postgres_databases, postgres_admin_url


@pytest.fixture
def persistent_redis():
    """A private Redis with an fsynced append-only file, so a restart keeps streams and groups."""
    server = RedisServer(persistent=True).start()
    yield server
    server.stop()


@pytest.fixture
def system_database_url():
    """The ``MLP_DATABASE_URL`` of a test system: PostgreSQL databases, one per service as in production,
    whenever a PostgreSQL answers (MLP_TEST_POSTGRES_URL, or 127.0.0.1:5432: CI has one); None otherwise,
    and the system keeps SQLite files."""
    admin = postgres_admin_url()
    if admin is None:
        yield None
        return
    url, drop = create_postgres_databases(admin, tuple(SERVICES))
    yield url
    drop()
