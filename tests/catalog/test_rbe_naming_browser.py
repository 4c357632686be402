"""The naming page in real Chromium against a real catalog process and a real SMTP sink: the school names its
RBE (errors first, in French, reachable), the RBE confirms from the link of their email; axe-core finds nothing."""

from __future__ import annotations

import re
import shutil

import pytest

from services.catalog.service.rbe_links import naming_token
from tests.support.browser import serious_axe_violations
from tests.support.live import ServiceProcess, service_env

pytestmark = pytest.mark.timeout(180)
SECRET = "browser-secret-key-for-rbe-naming-0123456789"


def test_a_school_names_its_rbe_in_chromium(page, tmp_path, redis_server, catalog_template, sink):
    shutil.copyfile(catalog_template, tmp_path / "catalog.db")
    env = service_env(
        tmp_path,
        redis_server.url,
        MLP_DATABASE_URL=f"sqlite:///{tmp_path / 'catalog.db'}",
        MLP_SECRET_KEY=SECRET,
        MLP_SMTP_URL=sink.url,
    )
    process = ServiceProcess("catalog", env, log_dir=tmp_path / "logs").start(timeout=120)
    try:
        page.goto(f"{process.url}/designer-rbe")  # no link at hand: the school asks for one
        page.fill("#uai", "069")
        page.click("button[type=submit]")
        assert "UAI invalide" in page.inner_text("#uai-error")
        assert serious_axe_violations(page) == []
        page.goto(f"{process.url}/designer-rbe?jeton={naming_token(SECRET, '0693504J')}")
        assert "Lycée polyvalent François Rabelais" in page.inner_text("main")
        assert serious_axe_violations(page) == []
        page.fill("#nom_1", "Camille Martin")
        page.fill("#email_1", "camille.martin@")
        page.click("button[type=submit]")
        assert "Adresse électronique invalide" in page.inner_text("#email_1-error")
        assert page.get_attribute("#email_1", "aria-invalid") == "true"
        assert serious_axe_violations(page) == []
        page.fill("#email_1", "camille.martin@ac-lyon.fr")
        page.fill("#fonction_1", "DDFPT")
        page.click("button[type=submit]")
        assert "Merci, votre désignation est enregistrée" in page.inner_text("[role=status]")
        assert "Camille Martin (DDFPT) : en attente de confirmation" in page.inner_text("main")
        assert serious_axe_violations(page) == []

        (message,) = sink.wait_for(1)
        link = re.search(r"http://\S+/designer-rbe/confirmer\?jeton=\S+", message.msg.get_content())
        assert message.to == "camille.martin@ac-lyon.fr" and link is not None
        page.goto(link[0])
        assert serious_axe_violations(page) == []
        page.click("text=Je confirme")
        assert "C'est confirmé" in page.inner_text("[role=status]")
        assert serious_axe_violations(page) == []
    finally:
        process.stop()
