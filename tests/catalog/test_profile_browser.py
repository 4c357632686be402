"""In Chromium, against a real catalog process: an RBE fills each part of the profile, the public profile
shows it, axe finds nothing serious, and the event appears on the events page and in the search."""

from __future__ import annotations

import shutil
from datetime import date, timedelta

import pytest

from tests.catalog.profile_support import RABELAIS, issue_link, jpeg_with_gps, name_rbe
from tests.support.browser import screenshot, serious_axe_violations
from tests.support.live import ServiceProcess, service_env

pytestmark = pytest.mark.timeout(240)
SECRET = "cle-de-test-navigateur-suffisamment-longue-42"


@pytest.fixture
def catalog_with_rbe(tmp_path, redis_server, catalog_template):
    shutil.copyfile(catalog_template, tmp_path / "catalog.db")
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    name_rbe(url, [RABELAIS])
    token = issue_link(SECRET, url)
    env = service_env(tmp_path, redis_server.url, MLP_DATABASE_URL=url, MLP_SECRET_KEY=SECRET)
    process = ServiceProcess("catalog", env, log_dir=tmp_path / "logs").start(timeout=120)
    yield process, token
    process.stop()


def test_rbe_fills_every_part_and_companies_see_it(page, catalog_with_rbe, tmp_path):
    process, token = catalog_with_rbe
    base = process.url
    page.set_default_timeout(20_000)
    page.goto(f"{base}/espace-rbe/connexion?jeton={token}")
    page.wait_for_url("**/espace-rbe/mes-lycees")
    assert "Prochaine étape conseillée : Services proposés" in page.inner_text("main")
    assert serious_axe_violations(page) == []
    page.click(f"a[href='/espace-rbe/lycees/{RABELAIS}']")
    page.wait_for_url(f"**/espace-rbe/lycees/{RABELAIS}")
    assert "Formations :" in page.input_value("#pitch")  # the draft, written from the data
    assert serious_axe_violations(page) == []

    page.fill("#pitch", "Au fournil pédagogique, nos apprentis boulangers préparent le pain du quartier.")
    page.click("label[for=svc-pfmp]")
    page.click("label[for=svc-recrutement]")
    page.fill("#cap", "5")
    page.click("#enregistrer-essentiel")
    page.wait_for_url("**ok=essentiel**")
    page.select_option("#pfmp-classe", "1re")
    page.fill("#pfmp-dates", "du 2 au 27 mars")
    page.click("#ajouter-pfmp")
    page.wait_for_url("**ok=pfmp**")
    page.select_option("#event-kind", "job_dating")
    page.fill("#event-title", "Job dating des métiers de bouche")
    page.fill("#event-start", (date.today() + timedelta(days=15)).isoformat())
    page.click("#ajouter-evenement")
    page.wait_for_url("**ok=evenements**")
    page.fill("#platforms", "Fournil pédagogique avec four à sole")
    page.fill("#label-metiers", "Lycée des métiers de la boulangerie")
    page.fill("#label-cmq", "Campus des métiers du goût")
    page.click("#enregistrer-vitrine")
    page.wait_for_url("**ok=vitrine**")
    page.fill("#partner-name", "Boulangerie Dupont")
    page.click("label[for=partner-consent]")
    page.click("#enregistrer-partenaires")
    page.wait_for_url("**ok=partenaires**")
    photo = tmp_path / "atelier.jpg"
    photo.write_bytes(jpeg_with_gps())
    page.click("label[for=kind-photo]")
    page.set_input_files("#fichier", str(photo))
    page.click("#envoyer-image")
    page.wait_for_url("**ok=image**")
    assert "Fiche complète à 100 %" in page.inner_text("#completude")
    assert serious_axe_violations(page) == []

    page.goto(f"{base}/lycees/{RABELAIS}")
    main = page.inner_text("main").lower()  # DSFR badges are shown in capitals
    for shown in ("Au fournil pédagogique", "rédigé par le lycée", "Première (1re) : du 2 au 27 mars",
                  "Job dating des métiers de bouche", "Fournil pédagogique avec four à sole",
                  "Lycée des métiers de la boulangerie", "Campus des métiers du goût", "Boulangerie Dupont"):
        assert shown.lower() in main, shown
    assert page.evaluate("document.getElementById('image-lycee').naturalWidth") > 0
    assert serious_axe_violations(page) == []
    screenshot(page, "catalog-profile-rbe")

    page.goto(f"{base}/evenements?lieu=69007&rayon=30")
    assert "Job dating des métiers de bouche" in page.inner_text("#agenda")
    assert serious_axe_violations(page) == []
    page.goto(f"{base}/")
    page.fill("#q", "job dating")
    page.fill("#lieu", "69007")
    page.click("button[type=submit]")
    page.wait_for_selector("#resultats")
    first = page.inner_text("#resultats li >> nth=0")
    assert "Lycée polyvalent François Rabelais" in first and "Job dating des métiers de bouche" in first
    assert serious_axe_violations(page) == []
