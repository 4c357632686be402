from __future__ import annotations

import os

import pytest

from tests.support.servers import RedisServer, create_postgres_database, postgres_admin_url
from tests.support.smtp import SmtpSink

pytest_plugins = ["tests.support.browser"]

os.environ.setdefault("MLP_ENV", "test")
os.environ.setdefault("MLP_LOG_JSON", "true")


@pytest.fixture(scope="session")
def redis_server():
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def sink():
    """A real SMTP server on loopback recording every message (tests.support.smtp)."""
    server = SmtpSink().start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    redis_server.flush()
    return redis_server.url


def _fresh_postgres_database():
    admin = postgres_admin_url()
    if admin is None:
        pytest.skip("PostgreSQL indisponible (MLP_TEST_POSTGRES_URL non défini, rien sur 127.0.0.1:5432)")
    url, drop = create_postgres_database(admin)
    yield url
    drop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """Each SQL test runs on SQLite and on PostgreSQL (skipped only where no PostgreSQL answers)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/test.db"
        return
    yield from _fresh_postgres_database()


@pytest.fixture
def postgres_url():
    """A fresh PostgreSQL database, for tests about PostgreSQL only."""
    yield from _fresh_postgres_database()
