"""The promise to an RBE: one email per request, never three. One RBE in charge of the two lycées
a request is routed to gets ONE assignment and ONE email per request (listing both lycées), on the
whole system as real processes, with the RBE directory imported through the catalog's admin API."""

from __future__ import annotations

import httpx
import pytest
import redis as redis_sync

from tests.support.audit import audit_run, query
from tests.support.eventually import eventually
from tests.support.servers import RedisServer
from tests.support.system import FAST_ENV, System, catalog_template, request_body

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

ADMIN = "e2e-admin-token-0123456789abcdef"
SHARED_RBE = "camille.martin@ac-lyon.fr"
N_REQUESTS = 4


def preview(system: System, body: dict) -> list[dict]:
    response = httpx.post(system.url("matcher") + "/api/v1/routing/preview", json=body, timeout=10)
    return response.json()["recipients"] if response.status_code == 200 else []


def test_one_rbe_in_charge_of_two_chosen_lycees_gets_one_email_per_request(tmp_path, tmp_path_factory):
    redis = RedisServer().start()
    catalog_db = catalog_template(tmp_path_factory.getbasetemp() / "chaos-catalog")
    system = System(tmp_path, redis.url, catalog_db=catalog_db, extra_env={**FAST_ENV, "MLP_ADMIN_TOKEN": ADMIN})
    r = redis_sync.Redis.from_url(redis.url)
    try:
        system.start(parallel=True)
        body = request_body(0, tag="grouping")
        eventually(lambda: len(preview(system, body)) >= 2, timeout=180, interval=0.5, what="routing ready")
        first, second = preview(system, body)[:2]
        # The same person becomes RBE of the first two lycées chosen for this kind of request.
        csv = f"name,email,uais,deputy_email\nCamille Martin,{SHARED_RBE},{first['uai']};{second['uai']},\n"
        imported = httpx.post(system.url("catalog") + "/api/v1/admin/rbe/import?confirmes=true", content=csv.encode(), timeout=30,
                              headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "text/csv"})
        assert imported.status_code == 200 and imported.json()["imported"] == 1, imported.text
        eventually(lambda: any(p["rbe_email"] == SHARED_RBE for p in preview(system, body)), timeout=60,
                   what="matcher sees the new directory")
        ids = set()
        for n in range(N_REQUESTS):
            # Distinct companies, all looking for the same job in the same place.
            response = system.submit({**request_body(n, tag="grouping"), "jobs": body["jobs"],
                                      "location": body["location"]})
            assert response.status_code == 202
            ids.add(response.json()["request_id"])
        eventually(lambda: len(query(tmp_path / "notifier.db", "SELECT 1 FROM notifier_thread")) == N_REQUESTS
                   and not query(tmp_path / "notifier.db",
                                 "SELECT 1 FROM notifier_outbound WHERE status != 'sent'"),
                   timeout=90, what="every request mailed")
        audit = audit_run(tmp_path, r, system.sink.snapshot(), ids)
        mails = system.sink.to(SHARED_RBE)
    finally:
        system.stop()
        r.close()
        redis.stop()
    print(f"\nGROUPING requests_sent={N_REQUESTS} messages_checked={audit.messages} shared_rbe_mails={len(mails)}")
    assert audit.problems == []
    assert len(mails) == N_REQUESTS  # one per request, not one per lycée
    text = mails[0].get_body(("plain",)).get_content()
    assert first["lycee"] in text and second["lycee"] in text
