"""What the fuzz suites share besides the ``fuzz_system`` fixture: the system's secrets and limits,
a tally of the cases run, and a routed and mailed request to fuzz (``Thread``)."""

from __future__ import annotations

import redis as redis_sync

from shared.contracts.events import Streams
from tests.support.audit import stream_bodies, thread_root
from tests.support.eventually import eventually
from tests.support.system import System, request_body

ADMIN_TOKEN = "fuzz-admin-token-0123456789abcdef"
SECRET = "fuzz-secret-key-0123456789abcdef-0123456789"
MAX_INBOUND = 300_000  # small, so a "huge" message is quick to send
COUNTS: dict[str, int] = {}


def count(kind: str, n: int = 1) -> None:
    COUNTS[kind] = COUNTS.get(kind, 0) + n


class Thread:
    """A request routed and mailed: the company, the lead RBE and their copies of the first email."""

    def __init__(self, system: System, n: int) -> None:
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

        eventually(lambda: routed() is not None, timeout=60, what="routed")
        event = routed()
        r.close()
        self.company = event["contact"]["email"]
        self.lead = next(rec["rbe_email"] for rec in event["recipients"] if rec["role"] == "lead")
        eventually(lambda: self._lead_mail() is not None, timeout=60, what="first emails")
        self.lead_mail = self._lead_mail()
        self.lead_reply_to = str(self.lead_mail["Reply-To"]).strip()

    def _lead_mail(self):
        """The lead's copy of this request's first email (same thread as the company's copy)."""
        mine = self.system.sink.to(self.company)
        if not mine:
            return None
        self.company_mail = mine[0]
        root = thread_root(self.company_mail)
        return next((m for m in self.system.sink.to(self.lead) if thread_root(m) == root), None)
