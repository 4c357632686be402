"""The whole journey in headless Chromium against the four services as real processes: a company
finds a lycée by job, opens its profile, contacts it through the form; the RBEs are mailed (SMTP
sink); the lead takes the request with « Je m'en occupe » and answers by email with the quoted
history; the company gets the answer alone, in the same thread, and sees it on its status page."""

from __future__ import annotations

import re
import smtplib
import uuid
from email.message import EmailMessage
from email.utils import make_msgid

import httpx
import pytest
import redis as redis_sync

from shared.contracts.events import Streams
from tests.support.audit import stream_bodies, thread_root
from tests.support.browser import screenshot
from tests.support.eventually import eventually
from tests.support.system import FAST_ENV, System, catalog_template

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(240)]

COMPANY_EMAIL = f"jeanne.martin.{uuid.uuid4().hex[:6]}@boulangerie-dupont.fr"
REPLY = "Bonjour Madame Martin, nous avons deux élèves de CAP disponibles en mars. Je vous appelle jeudi."
QUOTED = "> Historique cité du premier courriel, qui ne doit jamais être relayé"


@pytest.fixture
def system(tmp_path, tmp_path_factory, redis_url):
    catalog_db = catalog_template(tmp_path_factory.getbasetemp() / "chaos-catalog")
    running = System(tmp_path, redis_url, catalog_db=catalog_db, extra_env=FAST_ENV).start(parallel=True)
    yield running
    running.stop()


def action_link(msg: EmailMessage, label: str) -> str:
    text = msg.get_body(("plain",)).get_content()
    found = re.search(rf"{re.escape(label)} : (\S+)", text)
    assert found, f"no « {label} » link in the email"
    return found.group(1)


def find_and_contact_a_lycee(page, system: System) -> str:
    page.goto(system.url("catalog") + "/")
    page.fill("#metier", "boulanger")
    page.fill("#lieu", "69007")
    screenshot(page, "e2e-1-recherche")
    page.click("button[type=submit]")
    page.wait_for_selector("#resultats")
    assert "Boulanger" in page.inner_text("#resultats li >> nth=0")
    screenshot(page, "e2e-2-resultats")
    page.click("#resultats li >> nth=0 >> a")
    page.wait_for_url(re.compile(r"/lycees/\w{8}\?metier=boulanger$"))  # the profile knows the job searched
    uai = page.url.rsplit("/", 1)[1].split("?")[0]
    assert "Contacter le bureau des entreprises" in page.inner_text("#contacter")
    screenshot(page, "e2e-3-fiche-lycee")
    page.click("#contacter")
    page.wait_for_url(re.compile(r"/demande\?"))
    return uai


def fill_and_send_the_form(page) -> None:
    assert page.locator("#metier-1").input_value() == "boulanger"  # the job searched, carried by the profile
    # What the service understood, shown before the company sends (same resolver as routing).
    page.wait_for_function("document.getElementById('metier-1-compris').textContent.includes('Nous avons compris')")
    assert "Boulanger / Boulangère" in page.inner_text("#metier-1-compris")
    page.set_default_timeout(20_000)
    page.click("label[for=besoin-pfmp]")  # DSFR checkboxes: the label takes the click
    page.fill("#places", "2")
    page.click("#etape-1-suivante")
    page.fill("#siret", "732 829 320 00074")
    page.click("#etape-2-suivante")
    page.fill("#lieu", "69007")
    page.click("#etape-3-suivante")
    page.fill("#entreprise", "Boulangerie Dupont")
    page.fill("#nom", "Jeanne Martin")
    page.fill("#email", COMPANY_EMAIL)
    page.click("label[for=consentement]")
    screenshot(page, "e2e-4-formulaire")
    page.wait_for_timeout(1100)  # a person takes longer than the minimum fill time
    assert page.locator("#besoin-pfmp").is_checked() and page.locator("#consentement").is_checked()
    page.click("#envoyer")
    page.wait_for_url(re.compile(r"/demande/merci/"))
    screenshot(page, "e2e-5-confirmation")


def test_company_to_lead_rbe_and_back_in_one_thread(page, system: System, redis_url):
    uai = find_and_contact_a_lycee(page, system)
    assert f"uai={uai}" in page.url.lower() or f"uai={uai.lower()}" in page.url.lower()
    fill_and_send_the_form(page)
    page.click("#lien-suivi")
    page.wait_for_url(re.compile(r"/suivi/"))
    status_url = page.url

    r = redis_sync.Redis.from_url(redis_url)
    eventually(lambda: r.exists(Streams.REQUEST_ROUTED) and stream_bodies(r, Streams.REQUEST_ROUTED),
               timeout=60, what="request routed")
    (routed,) = stream_bodies(r, Streams.REQUEST_ROUTED)
    r.close()
    assert routed["contact"]["email"] == COMPANY_EMAIL
    lead = next(rec for rec in routed["recipients"] if rec["role"] == "lead")
    copies = [rec["rbe_email"] for rec in routed["recipients"] if rec["role"] == "copy"]
    assert uai in [u for rec in routed["recipients"] for u in rec["uais"]]  # the chosen lycée is in
    everyone = [lead["rbe_email"], *copies, COMPANY_EMAIL]
    eventually(lambda: all(system.sink.to(a) for a in everyone), timeout=60, what="first emails")
    first = {a: system.sink.to(a) for a in everyone}
    assert all(len(msgs) == 1 for msgs in first.values()), {a: len(m) for a, m in first.items()}
    roots = {thread_root(msgs[0]) for msgs in first.values()}
    assert len(roots) == 1  # one thread for everyone
    lead_mail = first[lead["rbe_email"]][0]
    assert status_url in first[COMPANY_EMAIL][0].get_body(("plain",)).get_content()  # the ack keeps the status page
    assert "Boulangerie Dupont" in lead_mail.get_body(("plain",)).get_content()

    # The lead takes the request: GET only asks for confirmation, POST applies it.
    page.goto(action_link(lead_mail, "Je m'en occupe"))
    screenshot(page, "e2e-6-action-confirmation")
    page.click("button[type=submit]")
    page.wait_for_selector("text=C'est enregistré")
    screenshot(page, "e2e-7-action-enregistree")

    # ... and answers by email, quoting the original as mail clients do.
    reply = EmailMessage()
    reply["From"] = lead["rbe_email"]
    reply["To"] = str(lead_mail["Reply-To"])
    reply["Subject"] = "Re: " + str(lead_mail["Subject"])
    reply["Message-ID"] = make_msgid(domain="ac-lyon.fr")
    reply["In-Reply-To"] = str(lead_mail["Message-ID"])
    reply["References"] = str(lead_mail["Message-ID"])
    reply.set_content(f"{REPLY}\n\nCordialement,\nLe bureau des entreprises\n\n"
                      f"Le jeu. 26 nov. 2026 à 09:00, MonLycéePro a écrit :\n{QUOTED}\n> Boulangerie Dupont\n")
    with smtplib.SMTP("127.0.0.1", int(system.env["MLP_INBOUND_SMTP_PORT"]), timeout=10) as smtp:
        smtp.send_message(reply, from_addr=lead["rbe_email"], to_addrs=[str(lead_mail["Reply-To"])])

    def relayed_reply():
        return next((m for m in system.sink.to(COMPANY_EMAIL) if "Je vous appelle jeudi"
                     in m.get_body(("plain",)).get_content()), None)

    eventually(lambda: relayed_reply() is not None, timeout=60, what="reply relayed")
    relayed = relayed_reply()
    assert any("a pris en charge votre demande" in m.get_body(("plain",)).get_content()
               for m in system.sink.to(COMPANY_EMAIL))  # « Je m'en occupe » told the company
    body = relayed.get_body(("plain",)).get_content()
    assert REPLY in body and QUOTED not in body and "26 nov. 2026 à 09:00" not in body
    assert thread_root(relayed) in roots  # same thread as the first message
    assert str(relayed["Reply-To"]) != str(lead_mail["Reply-To"])  # the company answers with its own address

    # The company's status page shows the answer.
    eventually(lambda: httpx.get(status_url, headers={"Accept": "application/json"}, timeout=5)
               .json()["status"] == "answered", timeout=60, what="status answered")
    page.goto(status_url)
    assert "Je vous appelle jeudi" in page.inner_text("#chronologie")
    assert "Historique cité" not in page.inner_text("#chronologie")
    screenshot(page, "e2e-8-suivi-reponse")
    print(f"\nJOURNEY lycee={uai} recipients={len(everyone)} messages_checked={len(system.sink.snapshot())}")
