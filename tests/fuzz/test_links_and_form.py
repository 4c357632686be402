"""Hostile use of the web entry points, on the real processes: the form's honeypot, fill-time and
rate limits store nothing; action links (notifier) and RBE magic links (catalog) that are
tampered with, expired or replayed are refused with a French page, never a 5xx."""

from __future__ import annotations

import re
import time
from html import unescape

import httpx
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from services.catalog.service.magic import issue_link_token
from tests.fuzz.support import SECRET, Thread, count
from tests.support.audit import query
from tests.support.eventually import eventually
from tests.support.system import request_body

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def thread(fuzz_system) -> Thread:
    return Thread(fuzz_system, 2)


def stored_requests(system) -> int:
    return len(query(system.tmp_path / "intake.db", "SELECT id FROM intake_request"))


def form_fields(n: int, token: str, **extra: str) -> dict:
    return {"form_token": token, "besoins": "pfmp", "metiers": "Boulanger", "lieu": "69007", "rayon_km": "30",
            "entreprise": f"Boulangerie Robot {n}", "nom": "Jeanne Martin", "email": f"robot{n}@boulangerie.fr",
            "consentement": "oui", "site_web": "", **extra}


def form_token(intake: str) -> str:
    page = httpx.get(intake + "/demande", timeout=10).text
    return re.search(r'name="form_token" value="([^"]+)"', page).group(1)


def test_form_honeypot_fill_time_and_forged_token_store_nothing(fuzz_system):
    intake = fuzz_system.url("intake")
    before = stored_requests(fuzz_system)
    token = form_token(intake)
    too_fast = httpx.post(intake + "/demande", data=form_fields(1, token), timeout=10)
    assert too_fast.status_code == 422 and "trop vite" in unescape(too_fast.text)
    time.sleep(1.2)  # the minimum fill time of this system is 1 s
    cases = {
        "honeypot": (form_fields(2, token, site_web="http://spam.example"), "n'a pas pu être enregistrée"),
        "forged token": (form_fields(3, token[:-3] + "abc"), "expiré"),
        "no token": (form_fields(4, ""), "expiré"),
        "token of another form": (form_fields(5, "demande.AAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBB"), "expiré"),
    }
    for name, (fields, message) in cases.items():
        count("form-hostile")
        response = httpx.post(intake + "/demande", data=fields, timeout=10)
        assert response.status_code == 422 and message in unescape(response.text), name
    assert stored_requests(fuzz_system) == before  # nothing half-stored
    # The same form, filled by a person, goes through.
    accepted = httpx.post(intake + "/demande", data=form_fields(6, token), timeout=10)
    assert accepted.status_code in (200, 303) and stored_requests(fuzz_system) == before + 1


def test_the_same_contact_cannot_flood_the_schools(fuzz_system):
    body = request_body(99, tag="flood")
    statuses = []
    for _ in range(7):
        count("rate-limit")
        statuses.append(fuzz_system.submit(body).status_code)
    assert statuses[:5] == [202] * 5 and statuses[5:] == [429, 429]
    refused = fuzz_system.submit(body)
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert "demandes" in refused.json()["detail"].lower()
    emails = [row[0] for row in query(fuzz_system.tmp_path / "intake.db", "SELECT contact_email FROM intake_request")]
    assert emails.count(body["contact"]["email"]) == 5


class _OldSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 40 * 86400  # older than the 30-day life of an action link


def _links(thread: Thread) -> dict[str, str]:
    text = thread.lead_mail.get_body(("plain",)).get_content()
    return {label: re.search(rf"{label} : (\S+)", text).group(1)
            for label in ("Je m'en occupe", "Ce n'est pas pour nous")}


def test_action_links_tampered_expired_or_replayed_are_refused(fuzz_system, thread):
    links = _links(thread)
    accept = links["Je m'en occupe"]
    base, token = accept.rsplit("/", 1)
    serializer = URLSafeTimedSerializer(SECRET, salt="mlp-notifier-action")
    expired = URLSafeTimedSerializer(SECRET, salt="mlp-notifier-action", signer=_OldSigner).dumps(
        serializer.loads(token))
    refusals = {
        "tampered": (f"{base}/{token[:-2]}{'AA' if token[-2:] != 'AA' else 'BB'}", 400, "n'est pas valide"),
        "truncated": (f"{base}/{token[: len(token) // 2]}", 400, "n'est pas valide"),
        "forged with another key": (f"{base}/" + URLSafeTimedSerializer("autre-cle", salt="mlp-notifier-action")
                                    .dumps(serializer.loads(token)), 400, "n'est pas valide"),
        "expired": (f"{base}/{expired}", 410, "a expiré"),
        "garbage": (f"{base}/%00%FF'\"<script>", 400, "n'est pas valide"),
    }
    for name, (url, status, message) in refusals.items():
        for method in ("GET", "POST"):
            count("action-link-hostile")
            response = httpx.request(method, url, timeout=10)
            assert response.status_code == status and message in unescape(response.text), (name, method, response.status_code)
    # GET only shows a confirmation (mail scanners prefetch links); POST applies once; replay refused.
    assert httpx.get(accept, timeout=10).status_code == 200
    assert "C'est enregistré" in unescape(httpx.post(accept, timeout=10).text)
    for method in ("GET", "POST"):
        count("action-link-hostile")
        replay = httpx.request(method, accept, timeout=10)
        assert replay.status_code == 410 and "déjà été utilisé" in unescape(replay.text)


def test_rbe_magic_links_tampered_expired_or_replayed_are_refused(fuzz_system, thread):
    catalog = fuzz_system.url("catalog")
    sent_before = len(fuzz_system.sink.to(thread.lead))
    asked = httpx.post(catalog + "/espace-rbe", data={"email": thread.lead}, timeout=10)
    assert asked.status_code == 200
    eventually(lambda: len(fuzz_system.sink.to(thread.lead)) > sent_before, timeout=30,
               what="magic link email")
    text = fuzz_system.sink.to(thread.lead)[-1].get_body(("plain",)).get_content()
    link = re.search(r"(http\S+/espace-rbe/connexion\?jeton=\S+)", text).group(1)
    token = link.split("jeton=", 1)[1]
    old, _ = issue_link_token(SECRET, thread.lead, now=time.time() - 3600)
    forged, _ = issue_link_token("une-autre-cle-secrete", thread.lead)
    refusals = {
        "tampered": token[:-2] + ("AA" if token[-2:] != "AA" else "BB"),
        "other address, same signature": token.split(".")[0][:-4] + "AAAA." + token.split(".")[1],
        "forged with another key": forged,
        "expired": old,
        "garbage": "<script>alert(1)</script>",
    }
    for name, bad in refusals.items():
        count("magic-link-hostile")
        response = httpx.get(catalog + "/espace-rbe/connexion", params={"jeton": bad}, timeout=10,
                             follow_redirects=False)
        assert response.status_code == 400 and "lien" in response.text.lower(), name
        assert "set-cookie" not in response.headers, name
    opened = httpx.get(catalog + "/espace-rbe/connexion", params={"jeton": token}, follow_redirects=False, timeout=10)
    assert opened.status_code == 303 and "set-cookie" in opened.headers
    count("magic-link-hostile")
    replay = httpx.get(catalog + "/espace-rbe/connexion", params={"jeton": token}, follow_redirects=False, timeout=10)
    assert replay.status_code == 400 and "déjà été utilisé" in unescape(replay.text) and "set-cookie" not in replay.headers
