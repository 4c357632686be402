"""Fixtures of the intake tests (shared helpers and data are in tests/intake/support.py)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from services.intake.app import create_app
from tests.intake.support import make_settings
from tests.support.eventually import eventually
from tests.support.live import ServiceProcess, service_env


@pytest.fixture
def make_client(tmp_path, redis_url):
    clients: list[TestClient] = []

    def factory(database_url: str | None = None, clock: Callable[[], float] = time.time,
                **overrides) -> TestClient:
        """A started app; ``clock`` (seconds since the epoch) is what its form checks read."""
        app = create_app(make_settings(tmp_path, redis_url, database_url, **overrides), clock)
        client = TestClient(app, raise_server_exceptions=True)
        client.__enter__()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        # Let the relay finish its turn before the lifespan cancels it: a relay cancelled while its
        # worker thread still claims a batch can leave that SQLite transaction (and its lock) open.
        runtime = client.app.state.runtime
        runtime.relay.stop()
        relays = tuple(task for task in runtime.tasks if task.get_name() == f"{runtime.name}-relay")
        eventually(lambda relays=relays: all(task.done() for task in relays), timeout=10, interval=0.01,
                   what="the outbox relay stopped")
        client.__exit__(None, None, None)
        client.app.state.runtime.engine.dispose()


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


@pytest.fixture(scope="module")
def intake(tmp_path_factory, redis_server):
    """A real intake process (``monlyceepro serve intake``) for the browser tests, one per test module."""
    tmp_path = tmp_path_factory.mktemp("intake-browser")
    env = service_env(tmp_path, redis_server.url, MLP_MIN_FILL_SECONDS="1", MLP_RATE_LIMIT_IP="1000")
    service = ServiceProcess("intake", env, log_dir=tmp_path / "logs").start()
    yield service
    service.stop()
