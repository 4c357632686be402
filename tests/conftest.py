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


# tryfirst: pytest-xdist reads the xdist_group marks in its own pytest_collection_modifyitems, so they
# must be set before it runs. (This hook was trylast until 2026-12-07: xdist saw no mark, split modules
# between workers, started their module-scoped fixtures, live systems included, once per worker, and
# ran the heavy tests side by side.)
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items) -> None:
    """How scripts/test.sh spreads the suite over pytest-xdist workers (``--dist loadgroup``): the
    heavy tests (a live system of several services, a crash scenario) run one after the other on
    one worker, as their timeouts assume; every other module stays whole on one worker, so its
    module-scoped fixtures (a Chromium, an in-process server) start once. A Chromium test on an
    in-process server and a long in-process sweep (marker ``in_process``) are not heavy."""
    for item in items:
        heavy = any(item.get_closest_marker(name) for name in ("slow", "chaos"))
        heavy = heavy and not item.get_closest_marker("in_process")
        item.add_marker(pytest.mark.xdist_group("heavy" if heavy else item.nodeid.split("::", 1)[0]))
