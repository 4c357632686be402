"""Pilot académies over the running system (issue 20, item 1): with MLP_PILOT_ACADEMIES=Lyon, a request
from Grenoble is accepted, routed to no RBE, and reaches the Grenoble referent's mailbox (SMTP sink) with the
honest message, in the request's one thread with the company; a Lyon request is routed to lycées as before.
In Chromium, the notice shows on the form as soon as the commune is known (JavaScript), and on a
confirmation step before anything is stored (JavaScript disabled); axe finds nothing serious."""

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

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

REFERENT = "alex.durand@ac-grenoble.fr"
NOTICE = (
    "Le service s'ouvre d'abord dans l'académie de Lyon ; votre demande sera transmise à la personne "
    "référente entreprises de l'académie de Grenoble (à défaut, l'équipe nationale de MonLycéePro)."
)


@pytest.fixture(scope="module")
def system(tmp_path_factory, redis_server):
    redis_server.flush()
    tmp_path = tmp_path_factory.mktemp("pilot-system")
    catalog_db = catalog_template(tmp_path_factory.getbasetemp() / "chaos-catalog")
    running = System(
        tmp_path,
        redis_server.url,
        catalog_db=catalog_db,
        extra_env={**FAST_ENV, "MLP_PILOT_ACADEMIES": "Lyon"},
    )
    directory = tmp_path / "referents.csv"
    directory.write_text(f"academie,name,email\nGrenoble,Alex Durand,{REFERENT}\n", encoding="utf-8")
    assert import_referents([str(directory), "--database-url", f"sqlite:///{tmp_path}/catalog.db"]) == 0
    running.start(parallel=True)
    yield running
    running.stop()


def _routed(system: System, request_id: str) -> dict:
    r = redis_sync.Redis.from_url(system.env["MLP_REDIS_URL"])
    try:
        return eventually(
            lambda: next(
                (b for b in stream_bodies(r, Streams.REQUEST_ROUTED) if b["request_id"] == request_id), None
            ),
            timeout=90,
            what="routed event",
        )
    finally:
        r.close()


def test_outside_the_pilot_the_request_reaches_the_academie_contact_with_the_honest_message(system: System):
    body = {
        **request_body(1, "pilote"),
        "jobs": ["Boulanger"],
        "company_name": "Boulangerie Alpine",
        "location": {"postal_code": "38000"},
    }
    response = system.submit(body)
    assert response.status_code == 202, response.text
    assert response.json()["in_pilot"] is False and response.json()["pilot_notice"] == NOTICE
    request_id, company = response.json()["request_id"], body["contact"]["email"]

    routed = _routed(system, request_id)
    assert (
        routed["recipients"] == [] and routed["in_pilot"] is False
    )  # Grenoble has bakers' lycées: none asked
    assert routed["fallback_email"] == REFERENT
    assert "ne fait pas partie des académies pilotes" in routed["explanation"]

    mail = eventually(lambda: system.sink.to(REFERENT), timeout=60, what="the referent's email")[-1]
    text = mail.get_body(("plain",)).get_content()
    assert "hors des académies pilotes de MonLycéePro : elle n'a été transmise à aucun lycée" in text
    assert NOTICE in " ".join(text.split())  # what the company read, word for word
    assert "Boulangerie Alpine" in text
    ack = eventually(lambda: system.sink.to(company), timeout=60, what="the company's acknowledgement")[-1]
    ack_text = " ".join(ack.get_body(("plain",)).get_content().split())
    assert NOTICE in ack_text and "Le référent entreprises de l'académie a reçu votre demande" in ack_text
    assert thread_root(mail) == thread_root(ack)  # one thread: the company and the referent
    about = [
        m
        for m in system.sink.snapshot()
        if "Boulangerie Alpine" in m.msg.get("Subject", "")
        or "Boulangerie Alpine" in m.msg.get_body(("plain",)).get_content()
    ]
    assert {m.to for m in about} == {REFERENT, company.lower()}  # never an RBE

    status_api = response.json()["status_api_url"]

    def status() -> dict:
        return httpx.get(status_api, timeout=5).json()

    eventually(lambda: status()["status"] == "routed", timeout=60, what="the status page's routing")
    assert status()["in_pilot"] is False
    assert status()["status_label"] == "Transmise au référent entreprises de l'académie"
    assert any("Hors des académies pilotes" in entry["title"] for entry in status()["timeline"])

    inside = system.submit({**request_body(2, "pilote"), "location": {"postal_code": "69007"}})
    assert inside.json()["in_pilot"] is True
    assert _routed(system, inside.json()["request_id"])["recipients"]  # unchanged inside the pilot


def _fill(page, postal_code: str) -> None:
    page.click("label[for=besoin-pfmp]")
    page.fill("#metier-1", "Boulanger")
    page.fill("#lieu", postal_code)
    page.fill("#entreprise", "Pâtisserie des Alpes")
    page.fill("#nom", "Jeanne Martin")
    page.fill("#email", "jeanne.martin@patisserie-alpes.fr")
    page.click("label[for=consentement]")


@pytest.mark.browser
def test_the_notice_shows_on_the_form_with_javascript(page, system: System):
    page.set_default_timeout(20_000)
    page.goto(system.url("intake") + "/demande")
    page.click("#etape-1-suivante")
    page.click("#etape-2-suivante")
    page.fill("#lieu", "38000")
    page.wait_for_selector("#pilote-texte")
    assert " ".join(page.inner_text("#pilote-texte").split()) == NOTICE
    assert page.locator("#pilote_vu").input_value() == "Grenoble"
    screenshot(page, "pilote-1-formulaire")
    assert serious_axe_violations(page) == []
    page.fill("#lieu", "69007")  # back inside the pilot: the notice goes away
    page.wait_for_function("!document.getElementById('pilote-texte')")
    assert page.locator("#pilote_vu").input_value() == ""
    # The confirmation step a browser without JavaScript gets, checked by axe here (axe needs JavaScript).
    page.goto(system.url("intake") + "/demande")
    page.evaluate("document.querySelectorAll('.mlp-step').forEach(function (s) { s.hidden = false; })")
    _fill(page, "38000")
    page.wait_for_selector("#pilote-texte")
    page.evaluate("document.getElementById('pilote_vu').value = ''")  # as if the notice had not been seen
    page.wait_for_timeout(1100)  # MLP_MIN_FILL_SECONDS=1: a person takes longer than a robot
    page.click("#envoyer")
    page.wait_for_selector("#pilote-confirmation")
    assert serious_axe_violations(page) == []


@pytest.mark.browser
def test_without_javascript_the_notice_is_a_confirmation_step(page_without_js, system: System):
    page = page_without_js
    page.set_default_timeout(20_000)
    page.goto(system.url("intake") + "/demande")
    _fill(page, "38000")
    page.wait_for_timeout(1100)  # MLP_MIN_FILL_SECONDS=1: a person takes longer than a robot
    page.click("#envoyer")
    page.wait_for_selector("#pilote-confirmation")
    assert NOTICE in " ".join(page.inner_text("#pilote-confirmation").split())
    assert "Votre demande n'est pas encore enregistrée" in page.inner_text("#pilote-confirmation")
    screenshot(page, "pilote-2-confirmation")
    page.click("#confirmer-envoi")
    page.wait_for_url(re.compile(r"/demande/merci/"))
    assert "académie de Grenoble" in page.inner_text("#hors-pilote")

    def form_request_mailed() -> list:
        return [
            m
            for m in system.sink.to(REFERENT)
            if "Pâtisserie des Alpes" in m.get_body(("plain",)).get_content()
        ]

    assert eventually(form_request_mailed, timeout=60, what="the referent's email for the form's request")
