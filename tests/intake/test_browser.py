"""The company's journey in headless Chromium, keyboard only: form step by step, confirmation,
status page; axe-core on every page; the same journey with JavaScript disabled."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from services.intake.service import timeline
from shared.contracts.events import AssignmentChanged, ThreadMessage
from shared.platform.db import make_engine, unit_of_work
from tests.intake.support import VALID_BODY
from tests.support.browser import screenshot, serious_axe_violations

pytestmark = pytest.mark.timeout(120)


def tab_to(page, element_id: str, limit: int = 80) -> None:
    """Press Tab until the element has the focus: proves it is reachable by keyboard."""
    for _ in range(limit):
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"#{element_id} n'est pas atteignable au clavier")


def assert_accessible(page, name: str) -> None:
    screenshot(page, f"intake-{name}")
    if name.startswith("nojs"):
        # axe-core runs as a script: check the exact DOM the no-JS browser got, in a JS page with
        # the site's own scripts blocked so nothing changes it.
        copy = page.context.browser.new_context(locale="fr-FR")
        try:
            twin = copy.new_page()
            twin.route(re.compile(r".*\.js(\?.*)?$"), lambda route: route.abort())
            base = re.match(r"https?://[^/]+/", page.url).group(0)
            twin.set_content(page.content().replace("<head>", f'<head><base href="{base}">', 1),
                             wait_until="load")
            assert serious_axe_violations(twin) == [], name
        finally:
            copy.close()
        return
    assert serious_axe_violations(page) == [], name


def fill_contact_and_send(page) -> None:
    tab_to(page, "entreprise")
    page.keyboard.type("Boulangerie Dupont")
    tab_to(page, "nom")
    page.keyboard.type("Jeanne Martin")
    tab_to(page, "email")
    page.keyboard.type("jeanne.martin@boulangerie-dupont.fr")
    tab_to(page, "consentement")
    page.keyboard.press("Space")
    tab_to(page, "envoyer")
    page.keyboard.press("Enter")


def check_confirmation_and_status(page, name: str, need: str) -> None:
    page.wait_for_url(re.compile(r"/demande/merci/"))
    assert "Votre demande est bien enregistrée" in page.content()
    assert_accessible(page, f"{name}-confirmation")
    tab_to(page, "lien-suivi")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/suivi/"))
    assert page.locator("#statut").text_content() == "Reçue"
    assert "Demande reçue par MonLycéePro" in page.locator("#chronologie").inner_text()
    assert need in page.content()
    assert_accessible(page, f"{name}-suivi")


def test_keyboard_only_journey_with_javascript(page, intake):
    page.goto(f"{intake.url}/demande?metiers=Boulanger&uai=0690001a")
    assert_accessible(page, "js-formulaire")
    assert page.locator("#etape-2").is_hidden()  # one step at a time with JavaScript
    assert page.locator("#metier-1").input_value() == "Boulanger"  # prefilled from a lycée's page
    tab_to(page, "besoin-pfmp")
    page.keyboard.press("Space")
    tab_to(page, "places")
    page.keyboard.type("2")
    tab_to(page, "etape-1-suivante")
    page.keyboard.press("Enter")
    assert page.locator("#etape-1").is_hidden() and page.locator("#etape-2").is_visible()
    tab_to(page, "siret")
    page.keyboard.type("732 829 320 00074")
    tab_to(page, "etape-2-suivante")
    page.keyboard.press("Enter")
    tab_to(page, "lieu")
    page.keyboard.type("69007")
    tab_to(page, "etape-3-suivante")
    page.keyboard.press("Enter")
    assert_accessible(page, "js-etape-4")
    fill_contact_and_send(page)
    check_confirmation_and_status(page, "js", "Accueillir des élèves en stage (PFMP)")
    status = httpx.get(page.url, headers={"Accept": "application/json"}).json()
    assert status["jobs"] == ["Boulanger"] and status["postal_code"] == "69007"


def test_same_journey_without_javascript(page_without_js, intake):
    page = page_without_js
    page.goto(f"{intake.url}/demande")
    assert page.locator("#etape-2").is_visible()  # every step shown, one under the other
    assert_accessible(page, "nojs-formulaire")
    tab_to(page, "besoin-apprentissage")
    page.keyboard.press("Space")
    tab_to(page, "metier-1")
    page.keyboard.type("Pâtissier")
    tab_to(page, "lieu")
    page.keyboard.type("Lyon 7e Arrondissement")
    fill_contact_and_send(page)
    check_confirmation_and_status(page, "nojs", "Recruter un ou des apprentis")
    # the company deletes its data from the status page, keyboard only, still without JavaScript
    tab_to(page, "confirmation")
    page.keyboard.press("Space")
    tab_to(page, "supprimer")
    page.keyboard.press("Enter")
    page.wait_for_selector("#donnees-supprimees")
    assert page.locator("#statut").text_content() == "Données supprimées"
    assert "Boulangerie Dupont" not in page.content()
    assert_accessible(page, "nojs-suppression")


def test_errors_are_shown_next_to_fields_without_javascript(page_without_js, intake):
    page = page_without_js
    page.goto(f"{intake.url}/demande")
    page.wait_for_timeout(1100)  # a person takes longer than the minimum fill time
    tab_to(page, "email")
    page.keyboard.type("jeanne@yopmail.com")
    tab_to(page, "siret")
    page.keyboard.type("73282932000075")
    tab_to(page, "envoyer")
    page.keyboard.press("Enter")
    page.wait_for_selector("#erreurs")
    summary = page.locator("#erreurs").inner_text()
    assert "Choisissez au moins un élément." in summary
    assert "Indiquez une commune ou un code postal." in summary
    assert page.locator("#siret-erreur").inner_text() == (
        "Ce SIRET n'est pas valide (clé de contrôle incorrecte) : vérifiez-le.")
    assert page.locator("#email-erreur").inner_text().startswith("Les adresses électroniques jetables")
    assert page.locator("#consentement-erreur").is_visible()
    assert page.locator("#email").input_value() == "jeanne@yopmail.com"  # what was typed is kept
    # The label holds no link: DSFR lays a link in a label out as a block, read « selon lapolitique ».
    assert page.locator("label[for=consentement]").inner_text().endswith("selon la politique de confidentialité.")
    assert page.get_by_role("link", name="Lire la politique de confidentialité (nouvelle fenêtre)").is_visible()
    assert_accessible(page, "nojs-erreurs")


def test_impact_page_is_accessible(page, intake):
    page.goto(f"{intake.url}/impact?periode=12m")
    assert page.locator("#par-academie caption").inner_text() == "Demandes par académie"
    assert_accessible(page, "impact")


def test_errors_take_the_focus_with_javascript(page, intake):
    """With JavaScript on, a form that comes back with errors puts the focus on their summary."""
    page.goto(f"{intake.url}/demande")
    page.wait_for_timeout(1100)  # a person takes longer than the minimum fill time
    page.evaluate("document.getElementById('form-demande').submit()")
    page.wait_for_selector("#erreurs")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'erreurs'", timeout=5000)
    page.keyboard.press("Tab")  # the next stop is the first link to a field in error
    assert page.evaluate("document.activeElement.getAttribute('href')").startswith("#")


def test_the_header_fits_a_375_px_screen_behind_a_menu_button(page, intake):
    page.set_viewport_size({"width": 375, "height": 667})
    page.goto(f"{intake.url}/demande")
    header = page.locator("header.fr-header").bounding_box()
    screenshot(page, "intake-mobile-header")
    assert header["height"] < 0.25 * 667, header  # logo, service name and the menu button (21 %, was 40 %)
    assert page.locator("#bouton-menu").is_visible()
    assert not page.get_by_role("link", name="Notre impact").is_visible()
    page.click("#bouton-menu")
    page.get_by_role("link", name="Notre impact").wait_for(state="visible")
    screenshot(page, "intake-mobile-menu")
    assert serious_axe_violations(page) == []


def test_a_reply_keeps_its_paragraphs_and_each_step_shows_once(page, intake):
    created = httpx.post(f"{intake.url}/api/v1/requests", json=VALID_BODY, timeout=10)
    assert created.status_code in (201, 202), created.text
    status_url, request_id = created.json()["status_url"], created.json()["request_id"]
    engine = make_engine(intake.env["MLP_DATABASE_URL"].format(service="intake"))
    try:
        with unit_of_work(engine) as session:
            at = datetime.now(UTC)
            assignment = uuid.uuid4()
            timeline.apply_assignment(session, AssignmentChanged(
                correlation_id="t", request_id=uuid.UUID(request_id), assignment_id=assignment,
                rbe_email="ce.0690001a@ac-lyon.fr", role="lead", status="accepted", occurred_at=at))
            for kind, role, text in (("status", "lead", "Lycée Rabelais a pris en charge votre demande."),
                                     ("reply", "lead", "Bonjour,\n\nNous avons deux élèves.\n\nMarie Dubois\nRBE")):
                timeline.apply_message(session, ThreadMessage(
                    correlation_id="t", request_id=uuid.UUID(request_id), message_id=uuid.uuid4().hex,
                    author_role=role, author_label="Lycée Rabelais", kind=kind, text=text, sent_at=at))
            timeline.apply_assignment(session, AssignmentChanged(
                correlation_id="t", request_id=uuid.UUID(request_id), assignment_id=assignment,
                rbe_email="ce.0690001a@ac-lyon.fr", role="lead", status="answered", occurred_at=at))
    finally:
        engine.dispose()
    page.goto(status_url)
    steps = page.locator("#chronologie > li").all_inner_texts()
    assert sum("pris en charge" in s for s in steps) == 1, steps  # not once as a step, once as a message
    assert sum("répondu" in s or "Réponse de" in s for s in steps) == 1, steps
    assert "Bonjour,\n\nNous avons deux élèves.\n\nMarie Dubois\nRBE" in page.locator("#chronologie blockquote").inner_text()
