"""The académie referents' back-office over the running system, in headless Chromium: referents imported
(`import-referents`), two requests no lycée fits (Lyon and Rennes); the Lyon referent logs in by a magic link
read from the SMTP sink, sees only her académie's queue, assigns the request to a lycée found by search, and
that lycée's RBE receives it in the request's thread; her colleague, on the same request at the same time, is
told who did it and when. axe finds nothing on the back-office pages."""

from __future__ import annotations

import re

import httpx
import pytest
import redis as redis_sync

from services.catalog.cli import import_referents
from shared.contracts.events import Streams
from tests.support.audit import stream_bodies, thread_root
from tests.support.browser import screenshot, serious_axe_violations
from tests.support.eventually import eventually
from tests.support.system import FAST_ENV, System, catalog_template, request_body

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(300)]

TOKEN = "jeton-admin-e2e"
REFERENT = "camille.martin@ac-lyon.fr"
COLLEAGUE = "dominique.petit@ac-lyon.fr"  # the other referent of Lyon


@pytest.fixture
def system(tmp_path, tmp_path_factory, redis_url):
    catalog_db = catalog_template(tmp_path_factory.getbasetemp() / "chaos-catalog")
    running = System(tmp_path, redis_url, catalog_db=catalog_db, extra_env={**FAST_ENV, "MLP_ADMIN_TOKEN": TOKEN})
    directory = tmp_path / "referents.csv"
    directory.write_text("academie,name,email\nLyon,Camille Martin,Camille.Martin@ac-lyon.fr\n"
                         f"Lyon,Dominique Petit,{COLLEAGUE}\nRennes,Alex Durand,alex.durand@ac-rennes.fr\n",
                         encoding="utf-8")
    assert import_referents([str(directory), "--database-url", f"sqlite:///{tmp_path}/catalog.db"]) == 0
    running.start(parallel=True)
    yield running
    running.stop()


def _unroutable(system: System, n: int, company: str, postal_code: str) -> str:
    body = {**request_body(n, "referent"), "jobs": ["luthier"], "company_name": company,
            "location": {"postal_code": postal_code}}
    response = system.submit(body)
    assert response.status_code == 202, response.text
    return response.json()["request_id"]


def _log_in(page, system: System, email: str) -> None:
    """Ask for a link, read it from the SMTP sink, open it: the dashboard."""
    page.goto(system.url("catalog") + "/referents")
    page.fill("#email", email)
    page.click("button[type=submit]")
    assert "Vérifiez votre messagerie" in page.inner_text("main")
    link = eventually(lambda: _magic_link(system.sink.to(email)), timeout=30, what="magic link email")
    page.goto(link)
    page.wait_for_url(re.compile(r"/referents/tableau$"))


def _magic_link(mails) -> str | None:
    """The newest login link among ``mails``: the referent may also receive other mail (a request sent to
    her académie), in any order, so the last message is not always the link."""
    for mail in reversed(mails):
        found = re.search(r"(http://\S+/referents/connexion\?jeton=\S+)",
                          mail.get_body(preferencelist=("plain",)).get_content())
        if found:
            return found.group(1)
    return None


def _axe_clean(page, name: str) -> None:
    screenshot(page, name)
    assert serious_axe_violations(page) == [], name


def test_referent_logs_in_sees_her_academie_and_assigns_a_request(page, browser, system: System, redis_url):
    lyon = _unroutable(system, 1, "Lutherie Lyonnaise", "69007")
    rennes = _unroutable(system, 2, "Lutherie Rennaise", "35000")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    eventually(lambda: {i["request_id"] for i in httpx.get(system.url("matcher") + "/api/v1/review", headers=auth,
                                                           timeout=5).json()} == {lyon, rennes},
               timeout=90, what="both requests in the review queue")

    page.goto(system.url("catalog") + "/referents")
    _axe_clean(page, "backoffice-1-connexion")
    _log_in(page, system, REFERENT)
    main = page.inner_text("main")
    assert "académie de Lyon" in main and "Lutherie Lyonnaise" in page.inner_text("#file-revue")
    assert "Lutherie Rennaise" not in main  # another académie's request is never shown
    assert "Aucun lycée pertinent" in page.inner_text("#file-revue")  # the routing explanation
    _axe_clean(page, "backoffice-2-tableau")

    page.click("text=Traiter la demande de Lutherie Lyonnaise")
    page.wait_for_url(re.compile(rf"/referents/demandes/{lyon}$"))
    assert "Aucun lycée pertinent" in page.inner_text("#explication")
    page.fill("#metier", "")
    page.fill("#q", "Rabelais")
    page.click("text=Chercher dans l'académie de Lyon")
    page.wait_for_selector("#attribuer")
    _axe_clean(page, "backoffice-3-demande")
    uai = page.locator("input[name=uai]").first.get_attribute("value")
    # Her colleague opens the same request at the same time, in another browser.
    other = browser.new_context(locale="fr-FR").new_page()
    _log_in(other, system, COLLEAGUE)
    other.goto(page.url)
    other.wait_for_selector("#attribuer")

    page.click(f"label[for=lycee-{uai}]")
    page.click("#attribuer")
    page.wait_for_selector("#fait")
    assert "Lutherie Lyonnaise" not in page.inner_text("main")  # out of the queue
    _axe_clean(page, "backoffice-4-attribuee")
    other.click(f"label[for=lycee-{uai}]")
    other.click("#attribuer")
    other.wait_for_selector("#erreur")
    assert re.search(r"Déjà traité par Camille Martin à \d\d:\d\d\.", other.inner_text("#erreur"))
    _axe_clean(other, "backoffice-5-deja-traite")
    other.context.close()

    # The chosen lycée's RBE receives the request in the request's one thread.
    r = redis_sync.Redis.from_url(redis_url)

    def escalation() -> dict | None:
        return next((b for b in stream_bodies(r, Streams.REQUEST_ROUTED)
                     if b["request_id"] == lyon and b["kind"] == "escalation"), None)

    routed = eventually(escalation, timeout=60, what="the manual routing on the stream")
    r.close()
    (recipient,) = routed["recipients"]
    assert uai in recipient["uais"] and "Camille Martin" in routed["explanation"]
    company = routed["contact"]["email"]
    ack = eventually(lambda: system.sink.to(company), timeout=60, what="company acknowledgement")[0]
    received = eventually(lambda: system.sink.to(recipient["rbe_email"]), timeout=60, what="the RBE's email")
    assert thread_root(received[-1]) == thread_root(ack)
    assert "Lutherie Lyonnaise" in received[-1].get_body(("plain",)).get_content()
    # The Rennes request is still waiting for its own referent.
    assert {i["request_id"] for i in httpx.get(system.url("matcher") + "/api/v1/review", headers=auth,
                                               timeout=5).json()} == {rennes}
