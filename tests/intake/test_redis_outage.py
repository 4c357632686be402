"""Redis down: companies still get their confirmation; every request leaves exactly once when Redis is back.
Runs the real intake process (``monlyceepro serve intake``) against its own redis-server."""

from __future__ import annotations

import re
import time

import httpx
import pytest
import redis as redis_sync

from shared.contracts.events import Streams
from tests.intake.support import body
from tests.support.eventually import eventually
from tests.support.live import ServiceProcess, service_env
from tests.support.servers import RedisServer

pytestmark = pytest.mark.timeout(120)
REQUEST_ID = re.compile(rb'"request_id":\s*"([0-9a-f-]{36})"')


def test_requests_accepted_while_redis_is_down_are_published_exactly_once(tmp_path):
    redis_server = RedisServer().start()
    env = service_env(tmp_path, redis_server.url, MLP_RATE_LIMIT_IP="1000", MLP_RELAY_INTERVAL_S="0.05")
    intake = ServiceProcess("intake", env, log_dir=tmp_path / "logs").start()
    try:
        ok = httpx.post(f"{intake.url}/api/v1/requests", json=body(contact__email="avant@boulangerie-dupont.fr"))
        assert ok.status_code == 202
        client = redis_sync.Redis.from_url(redis_server.url)
        eventually(lambda: client.xlen(Streams.REQUEST_SUBMITTED) >= 1, timeout=20,
                   what="the first request published")
        assert client.xlen(Streams.REQUEST_SUBMITTED) == 1

        redis_server.stop()
        accepted = []
        for i in range(8):
            response = httpx.post(f"{intake.url}/api/v1/requests", timeout=10,
                                  json=body(contact__email=f"panne{i}@boulangerie-dupont.fr"))
            assert response.status_code == 202, response.text
            accepted.append(response.json()["request_id"])
        form = httpx.get(f"{intake.url}/demande", timeout=10)
        assert form.status_code == 200  # the form is served too
        assert httpx.get(f"{intake.url}/readyz", timeout=10).status_code == 503
        time.sleep(1.0)  # the relay retries in the meantime

        redis_server.start()  # same port, empty (no persistence): only the backlog can arrive
        client = redis_sync.Redis.from_url(redis_server.url)
        eventually(lambda: client.xlen(Streams.REQUEST_SUBMITTED) >= len(accepted), timeout=60,
                   what="the backlog published")
        time.sleep(1.5)  # would a duplicate still arrive?
        entries = client.xrange(Streams.REQUEST_SUBMITTED)
        published = [REQUEST_ID.search(b"".join(fields.values())).group(1).decode() for _, fields in entries]
        assert sorted(published) == sorted(accepted)  # each one, exactly once
        intake.wait_ready(timeout=30)
    finally:
        intake.stop()
        redis_server.stop()
