"""The embedded form in headless Chromium, inside a page of ANOTHER origin (issue 20, « Done when »).

Intake runs as a real process on http://127.0.0.1:P; the partner's page is served on
http://localhost:Q (a different origin), with the snippet of /integrer/{slug}/code pasted in it.
Checked: the frame loads and is sized to its content through postMessage, the form is filled and
sent inside the frame, the thank-you page shows in the frame, and the request is stored attributed
``embed`` + the partner; the same without JavaScript; a page on an origin the partner did not
register (http://localhost:R) cannot frame the form (CSP frame-ancestors), nor read the API's answers
(CORS), which the partner's own page can, with its key."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlmodel import Session, select

from services.intake.models import CompanyRequest
from services.intake.partners import admin
from services.intake.partners.keys import key_secret
from services.intake.partners.pages import snippet
from shared.platform.db import make_engine
from tests.intake.support import VALID_BODY
from tests.support.browser import ARTIFACTS, screenshot, serious_axe_violations
from tests.support.eventually import eventually
from tests.support.live import ServiceProcess, service_env

pytestmark = pytest.mark.timeout(120)
SLUG = "lese"
KEY_SECRET = "the partner key secret of this test, long enough"


class PartnerSite:
    """A partner's web page on its own loopback port: a title, some text, the pasted snippet."""

    def __init__(self, page_html: str) -> None:
        body = page_html.encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://localhost:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def partner_page(intake_url: str) -> str:
    return ("<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Les Entreprises s'Engagent</title>"
            "</head><body><h1>Les Entreprises s'Engagent</h1><p>Contactez un lycée professionnel :</p>"
            f"{snippet(intake_url, SLUG)}<p id=\"apres\">Bas de page du partenaire</p></body></html>")


@pytest.fixture(scope="module")
def system(tmp_path_factory, redis_server):
    tmp_path = tmp_path_factory.mktemp("partners-browser")
    env = service_env(tmp_path, redis_server.url, MLP_MIN_FILL_SECONDS="1", MLP_RATE_LIMIT_IP="1000",
                      MLP_PARTNER_REFRESH_S="0.2", MLP_PARTNER_KEY_SECRET=KEY_SECRET)
    intake = ServiceProcess("intake", env, log_dir=tmp_path / "logs").start()
    listed, unlisted = PartnerSite(partner_page(intake.url)), PartnerSite(partner_page(intake.url))
    engine = make_engine(env["MLP_DATABASE_URL"].format(service="intake"))
    admin.add_partner(engine, SLUG, "Les Entreprises s'Engagent", [listed.origin])
    yield intake, listed, unlisted, engine
    engine.dispose()
    listed.stop()
    unlisted.stop()
    intake.stop()


def stored_from(engine, email: str) -> CompanyRequest:
    with Session(engine) as session:
        return session.exec(select(CompanyRequest).where(CompanyRequest.contact_email == email)).one()


def the_form(page):
    """The frame of the form, once its document has loaded."""
    page.wait_for_selector(f"#monlyceepro-{SLUG}")
    frame = page.frame_locator(f"#monlyceepro-{SLUG}")
    frame.locator("#form-demande").wait_for()
    return frame


def fill_contact(frame, email: str) -> None:
    frame.locator("#entreprise").fill("Boulangerie Dupont")
    frame.locator("#nom").fill("Jeanne Martin")
    frame.locator("#email").fill(email)
    frame.locator("label[for=consentement]").click()


def frame_height(page) -> int:
    return page.evaluate(f"document.getElementById('monlyceepro-{SLUG}').getBoundingClientRect().height")


def test_the_embedded_form_works_in_a_partner_page_of_another_origin(page, system):
    intake, listed, _, engine = system
    page.goto(listed.origin + "/")
    frame = the_form(page)
    assert "Les Entreprises s'Engagent" in frame.locator("#partenaire").inner_text()
    assert frame.locator(".fr-header").count() == 0
    # sized to its content by postMessage: step 1 alone, far less than the snippet's 2400 px
    page.wait_for_function(f"document.getElementById('monlyceepro-{SLUG}').style.height !== '2400px'")
    content = page.frame(url=re.compile(r"/integrer/")).evaluate("document.body.getBoundingClientRect().height")
    assert abs(frame_height(page) - content) < 40 and frame_height(page) < 2000
    screenshot(page, "partenaire-js-formulaire")
    frame.locator("label[for=besoin-pfmp]").click()
    frame.locator("#etape-1-suivante").click()
    frame.locator("#metier-1").fill("Boulanger")
    frame.locator("#etape-2-suivante").click()
    frame.locator("#lieu").fill("69007")
    frame.locator("#etape-3-suivante").click()
    fill_contact(frame, email := "jeanne.js@boulangerie-dupont.fr")
    page.wait_for_timeout(1100)  # longer than the minimum fill time
    frame.locator("#envoyer").click()
    frame.locator("#lien-suivi").wait_for()
    thanks = page.frame(url=re.compile(r"/integrer/lese/merci/"))
    assert thanks is not None and page.url == listed.origin + "/"  # the partner's page stays
    assert "Votre demande est bien enregistrée" in thanks.content()
    assert frame.locator("#lien-suivi").get_attribute("target") == "_blank"
    screenshot(page, "partenaire-js-merci")
    stored = stored_from(engine, email)
    assert (stored.source_kind, stored.source_partner, stored.jobs) == ("embed", SLUG, ["Boulanger"])


def test_the_embedded_form_works_without_javascript(page_without_js, system):
    page = page_without_js
    _, listed, _, engine = system
    page.goto(listed.origin + "/")
    frame = the_form(page)
    assert frame_height(page) == 2400  # no script to size it: the snippet's height, the frame scrolls
    assert frame.locator("#etape-4").is_visible()  # every step shown, one under the other
    frame.locator("label[for=besoin-apprentissage]").click()
    frame.locator("#metier-1").fill("Pâtissier")
    frame.locator("#lieu").fill("Lyon 7e Arrondissement")
    fill_contact(frame, email := "jeanne.nojs@boulangerie-dupont.fr")
    page.wait_for_timeout(1100)
    frame.locator("#envoyer").click()
    frame.locator("#lien-suivi").wait_for()
    thanks = page.frame(url=re.compile(r"/integrer/lese/merci/"))
    assert thanks is not None
    page.evaluate("window.scrollTo(0, 0)")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "partenaire-nojs-merci.png"))  # the viewport: a full page leaves the frame blank
    stored = stored_from(engine, email)
    assert (stored.source_kind, stored.source_partner, stored.needs) == ("embed", SLUG, ["apprentissage"])


def test_a_page_of_an_unlisted_origin_cannot_frame_the_form(page, system):
    _, _, unlisted, _ = system
    refusals: list[str] = []
    page.on("console", lambda message: refusals.append(message.text) if "frame-ancestors" in message.text else None)
    page.goto(unlisted.origin + "/")
    page.wait_for_selector(f"#monlyceepro-{SLUG}")
    page.wait_for_load_state("load")
    page.wait_for_timeout(500)
    framed = page.frame_locator(f"#monlyceepro-{SLUG}").locator("#form-demande")
    assert framed.count() == 0
    assert refusals and "frame-ancestors" in refusals[0], refusals
    screenshot(page, "partenaire-origine-refusee")


def test_the_embedded_form_is_accessible(page, system):
    intake, _, _, _ = system
    page.goto(f"{intake.url}/integrer/{SLUG}")  # opened alone: axe-core checks the form's own document
    assert serious_axe_violations(page) == []


FETCH = """async ([url, key, body]) => {
  try {
    const r = await fetch(url, {method: body ? "POST" : "GET", body: body ? JSON.stringify(body) : undefined,
                                headers: {"X-API-Key": key, "Content-Type": "application/json"}});
    return [r.status, await r.json()];
  } catch (e) { return ["refusé", String(e)]; }
}"""


def test_cors_lets_the_partner_s_page_call_the_api_and_no_other(page, system):
    intake, listed, unlisted, engine = system
    key = admin.create_key(engine, key_secret(KEY_SECRET), SLUG, "submit,status").key
    eventually(lambda: httpx.options(f"{intake.url}/api/v1/requests", headers={
        "Origin": listed.origin, "Access-Control-Request-Method": "POST"}).status_code == 204,
        timeout=10, what="the service reloaded the partner's origins")
    page.goto(listed.origin + "/")
    status, answer = page.evaluate(FETCH, [f"{intake.url}/api/v1/requests", key, VALID_BODY])
    assert status == 202, answer
    status, summary = page.evaluate(FETCH, [f"{intake.url}/api/v1/partenaire/bilan", key, None])
    assert status == 200 and summary["partner"] == SLUG and summary["totals"]["requests"] >= 1
    with Session(engine) as session:
        stored = session.get(CompanyRequest, answer["request_id"])
    assert (stored.source_kind, stored.source_partner) == ("partner_api", SLUG)
    page.goto(unlisted.origin + "/")
    refused, error = page.evaluate(FETCH, [f"{intake.url}/api/v1/partenaire/bilan", key, None])
    assert refused == "refusé" and "Failed to fetch" in error
