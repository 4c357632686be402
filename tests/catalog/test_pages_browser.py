"""Public pages in real Chromium against a real catalog process: search, profile, contact button, axe-core."""

from __future__ import annotations

import shutil
from urllib.parse import parse_qs, urlparse

import pytest

from tests.support.browser import screenshot, serious_axe_violations
from tests.support.live import ServiceProcess, service_env

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def catalog_process(tmp_path_factory, redis_server, catalog_template):
    """One real catalog process for the module (pages are read-only here)."""
    tmp_path = tmp_path_factory.mktemp("catalog-live")
    shutil.copyfile(catalog_template, tmp_path / "catalog.db")
    env = service_env(tmp_path, redis_server.url, MLP_DATABASE_URL=f"sqlite:///{tmp_path / 'catalog.db'}")
    process = ServiceProcess("catalog", env, log_dir=tmp_path / "logs").start(timeout=120)
    yield process, env
    process.stop()


def test_search_without_javascript(page_without_js, catalog_process):
    process, _ = catalog_process
    page = page_without_js
    page.goto(process.url + "/")
    page.fill("#metier", "boulanger")
    page.fill("#lieu", "69007")
    page.select_option("#rayon", "100")
    page.click("button[type=submit]")
    page.wait_for_selector("#resultats")
    assert "autour de Lyon 7e Arrondissement (69007)" in page.inner_text("#resultats-titre")
    assert page.inner_text("#metier-compris") == "Nous avons compris : Boulanger / Boulangère."
    first = page.inner_text("#resultats li >> nth=0")
    assert "Lycée polyvalent François Rabelais" in first and "CAP Boulanger" in first
    page.click("#resultats li >> nth=0 >> a")
    page.wait_for_url("**/lycees/0693504J?metier=boulanger")
    assert "Contacter le bureau des entreprises" in page.inner_text("#contacter")
    # The contact button carries the job searched, not the lycée's first jobs.
    contact = parse_qs(urlparse(page.get_attribute("#contacter", "href")).query)
    assert contact["metiers"] == ["boulanger"] and contact["uai"] == ["0693504J"]


def test_search_page_accessibility(page, catalog_process):
    process, _ = catalog_process
    page.goto(process.url + "/?metier=boulanger&lieu=69007&rayon=100")
    page.wait_for_selector("#resultats")
    assert serious_axe_violations(page) == []
    page.goto(process.url + "/?metier=boulanger&lieu=00000")
    assert "Code postal inconnu" in page.inner_text("[role=alert]")
    assert serious_axe_violations(page) == []
    page.goto(process.url + "/espace-rbe")
    assert "lien de connexion" in page.inner_text("main")
    assert serious_axe_violations(page) == []


def test_profile_contact_button_and_accessibility(page, catalog_process):
    process, env = catalog_process
    intake = env["MLP_PUBLIC_BASE_URL"]
    page.route(f"{intake}/**", lambda route: route.fulfill(status=200, content_type="text/html",
                                                           body="<html lang='fr'><title>Demande</title></html>"))
    page.goto(process.url + "/lycees/0692516K")  # the SEP of lycée Rabelais: carries its mother's formations
    assert page.inner_text("h1") == "Section d'enseignement professionnel du Lycée polyvalent François Rabelais"
    jobs = page.inner_text("section[aria-labelledby=metiers-titre]")
    assert "Boulanger / Boulangère" in jobs and "Commerce alimentaire et métiers de bouche" in jobs
    assert "niveau 3, 2 ans" in page.inner_text("section[aria-labelledby=formations-titre]")
    assert "adresse générique" in page.inner_text("section[aria-labelledby=contact-titre]").lower()
    assert serious_axe_violations(page) == []
    screenshot(page, "catalog-profile")
    page.click("#contacter")
    page.wait_for_url(f"{intake}/demande**")
    query = parse_qs(urlparse(page.url).query)
    assert urlparse(page.url).path == "/demande"
    assert query["uai"] == ["0692516K"]
    assert "Boulanger / Boulangère" in query["metiers"]
