"""Issue 22's promise, on the whole system as real processes (real Redis, real SMTP sink): a school names its
RBE through its invitation link, the RBE confirms from their own mailbox; the open thread of a request sent to the
school's former address gains the RBE with its history, and the next request reaches the RBE's own address."""

from __future__ import annotations

import re

import httpx
import pytest

from services.catalog.service.rbe_links import naming_token
from tests.support.eventually import eventually
from tests.support.servers import RedisServer
from tests.support.system import FAST_ENV, System, catalog_template, request_body

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SECRET = "e2e-secret-key-for-rbe-naming-0123456789"
NEW_RBE = "sophie.bernard@ac-test.fr"


def preview(system: System, body: dict) -> list[dict]:
    response = httpx.post(system.url("matcher") + "/api/v1/routing/preview", json=body, timeout=10)
    return response.json()["recipients"] if response.status_code == 200 else []


def plain(message) -> str:
    return " ".join(message.get_body(("plain",)).get_content().split())


def test_a_named_and_confirmed_rbe_joins_open_threads_and_receives_the_next_requests(
    tmp_path, tmp_path_factory
):
    redis = RedisServer().start()
    catalog_db = catalog_template(tmp_path_factory.getbasetemp() / "chaos-catalog")
    system = System(
        tmp_path, redis.url, catalog_db=catalog_db, extra_env={**FAST_ENV, "MLP_SECRET_KEY": SECRET}
    )
    try:
        system.start(parallel=True)
        body = request_body(0, tag="naming")
        eventually(lambda: len(preview(system, body)) >= 1, timeout=180, interval=0.5, what="routing ready")
        lead = preview(system, body)[0]
        former = lead["rbe_email"]
        submitted = system.submit(body)
        assert submitted.status_code == 202
        status_url = submitted.json()["status_api_url"]
        eventually(
            lambda: system.sink.to(former), timeout=90,
            what=lambda: (f"the request reached the school's address (status: {httpx.get(status_url, timeout=10).text}, "
                          f"{len(system.sink.messages)} messages in the sink)"),
        )

        catalog = system.url("catalog")
        jeton = naming_token(SECRET, lead["uai"])
        named = httpx.post(
            catalog + "/designer-rbe",
            timeout=30,
            data={"jeton": jeton, "nom_1": "Sophie Bernard", "email_1": NEW_RBE, "fonction_1": "DDFPT"},
        )
        assert named.status_code == 200 and "Merci" in named.text
        (confirmation,) = eventually(
            lambda: system.sink.to(NEW_RBE), timeout=60, what="the confirmation link"
        )
        link = re.search(r"jeton=(\S+)", confirmation.get_content())
        assert link is not None
        confirmed = httpx.post(catalog + "/designer-rbe/confirmer", data={"jeton": link[1]}, timeout=30)
        assert confirmed.status_code == 200 and "C'est confirmé" in confirmed.text

        joined = eventually(
            lambda: len(system.sink.to(NEW_RBE)) >= 2 and system.sink.to(NEW_RBE)[1],
            timeout=90,
            what="the open thread's copy to the new RBE",
        )
        text = plain(joined)
        assert "Vous êtes désormais responsable du bureau des entreprises" in text
        assert body["company_name"] in text

        # The company picks this lycée (SEPs and their parent lycée are one establishment: one of them is asked).
        second = {
            **request_body(1, tag="naming"),
            "jobs": body["jobs"],
            "location": body["location"],
            "preferred_uai": lead["uai"],
        }
        eventually(
            lambda: any(p["rbe_email"] == NEW_RBE for p in preview(system, second)),
            timeout=60,
            what=lambda: (
                f"the matcher routes to the confirmed RBE ({lead['uai']}: {preview(system, second)})"
            ),
        )
        assert system.submit(second).status_code == 202
        newest = eventually(
            lambda: len(system.sink.to(NEW_RBE)) >= 3 and system.sink.to(NEW_RBE)[2],
            timeout=90,
            what="the next request at the RBE's own address",
        )
        assert second["company_name"] in plain(newest)
    finally:
        system.stop()
        redis.stop()
