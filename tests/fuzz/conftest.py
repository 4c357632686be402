"""One whole system (four real processes, a private Redis, SMTP sink) shared by the fuzz suites,
torn down at the end of the package so no service outlives it."""

from __future__ import annotations

import httpx
import pytest

from tests.chaos.support import FAST_ENV
from tests.support.servers import RedisServer
from tests.support.system import System, catalog_template

ADMIN_TOKEN = "fuzz-admin-token-0123456789abcdef"
SECRET = "fuzz-secret-key-0123456789abcdef-0123456789"
MAX_INBOUND = 300_000  # small, so a "huge" message is quick to send
COUNTS: dict[str, int] = {}


def count(kind: str, n: int = 1) -> None:
    COUNTS[kind] = COUNTS.get(kind, 0) + n


@pytest.fixture(scope="package")
def fuzz_system(tmp_path_factory):
    redis = RedisServer().start()
    tmp = tmp_path_factory.mktemp("fuzz-system")
    catalog_db = catalog_template(tmp_path_factory.getbasetemp() / "chaos-catalog")
    system = System(tmp, redis.url, catalog_db=catalog_db,
                    extra_env={**FAST_ENV, "MLP_ADMIN_TOKEN": ADMIN_TOKEN, "MLP_SECRET_KEY": SECRET,
                               "MLP_INBOUND_MAX_BYTES": str(MAX_INBOUND)})
    system.redis = redis
    try:
        system.start(parallel=True)
        # /readyz of the matcher turns 200 before its catalog read model is loaded (routing answers
        # 503 meanwhile): wait for a real routing preview before fuzzing.
        body = {"needs": ["pfmp"], "jobs": ["Boulanger"], "location": {"postal_code": "69007"},
                "company_name": "Sonde", "contact": {"name": "Sonde", "email": "sonde@exemple.fr"}}
        system.wait_until(lambda: httpx.post(system.url("matcher") + "/api/v1/routing/preview", json=body,
                                             timeout=10).status_code == 200, timeout=180, interval=0.5,
                          what="matcher catalog loaded")
        yield system
    finally:
        system.stop()
        redis.stop()
        print(f"\nFUZZ cases run: {dict(sorted(COUNTS.items()))} total={sum(COUNTS.values())}")


class Thread:
    """A request routed and mailed: the company, the lead RBE and their copies of the first email."""

    def __init__(self, system: System, n: int) -> None:
        import redis as redis_sync

        from shared.contracts.events import Streams
        from tests.chaos.support import request_body, stream_bodies

        self.system = system
        response = system.submit(request_body(n, tag="fuzz"))
        assert response.status_code == 202, response.text
        self.request_id = response.json()["request_id"]
        self.status_api_url = response.json()["status_api_url"]
        r = redis_sync.Redis.from_url(system.redis.url)

        def routed() -> dict | None:
            if not r.exists(Streams.REQUEST_ROUTED):
                return None
            return next((b for b in stream_bodies(r, Streams.REQUEST_ROUTED) if b["request_id"] == self.request_id),
                        None)

        system.wait_until(lambda: routed() is not None, timeout=60, what="routed")
        event = routed()
        r.close()
        self.company = event["contact"]["email"]
        self.lead = next(rec["rbe_email"] for rec in event["recipients"] if rec["role"] == "lead")
        system.wait_until(lambda: self._lead_mail() is not None, timeout=60, what="first emails")
        self.lead_mail = self._lead_mail()
        self.lead_reply_to = str(self.lead_mail["Reply-To"]).strip()

    def _lead_mail(self):
        """The lead's copy of this request's first email (same thread as the company's copy)."""
        from tests.chaos.support import thread_root

        mine = self.system.sink.to(self.company)
        if not mine:
            return None
        self.company_mail = mine[0]
        root = thread_root(self.company_mail)
        return next((m for m in self.system.sink.to(self.lead) if thread_root(m) == root), None)
