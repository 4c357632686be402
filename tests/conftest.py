from __future__ import annotations

import os

import pytest

from tests.support.servers import RedisServer, create_postgres_database, postgres_admin_url
from tests.support.smtp import SmtpSink
from tests.support.system import SYSTEM_LOGS

pytest_plugins = ["tests.support.browser"]

os.environ.setdefault("MLP_ENV", "test")
os.environ.setdefault("MLP_LOG_JSON", "true")


def pytest_runtest_setup(item):
    SYSTEM_LOGS.clear()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test that ran the system as processes shows, per service log, its warnings and errors and
    its last lines (logs hold no email body nor full address: the services' own logging rules)."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    for folder in SYSTEM_LOGS:
        for path in sorted(folder.glob("*.log")):
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            notable = [line for line in lines if '"level": "info"' not in line and '"level": "debug"' not in line]
            shown = [*notable[-40:], "…", *lines[-25:]]
            report.sections.append((f"service log {path.name}", "\n".join(shown)))


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
