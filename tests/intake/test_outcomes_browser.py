"""The impact page with outcomes, in Chromium: the plot (inline SVG, named for screen readers) and its
data table, « moins de 5 », the outcome on the company's status page; axe-core on both pages."""

from __future__ import annotations

import httpx
import pytest

from services.intake import handlers
from shared.platform.db import make_engine, unit_of_work
from tests.intake.outcome_support import outcome, route_and_answer
from tests.intake.support import body
from tests.support.browser import screenshot, serious_axe_violations

pytestmark = pytest.mark.timeout(120)


def _taken_with_outcomes(intake, count: int) -> list[str]:
    """``count`` requests routed and answered; each says « PFMP accueillie », the first also « Visite »."""
    urls, ids = [], []
    for i in range(count):
        created = httpx.post(
            f"{intake.url}/api/v1/requests",
            timeout=10,
            json=body(contact__email=f"contact{i}@boulangerie-dupont.fr"),
        )
        assert created.status_code == 202, created.text
        urls.append(created.json()["status_url"])
        ids.append(created.json()["request_id"])
    engine = make_engine(intake.env["MLP_DATABASE_URL"].format(service="intake"))
    try:
        with unit_of_work(engine) as session:
            for i, request_id in enumerate(ids):
                route_and_answer(session, request_id, delay_hours=2)
                for kind in ("pfmp", "visite") if i == 0 else ("pfmp",):
                    handlers.on_outcome(
                        outcome(request_id, kind, note="Deux élèves en mars." if i == 0 else ""), session
                    )
    finally:
        engine.dispose()
    return urls


def test_impact_page_plots_actions_hides_small_counts_and_is_accessible(page, intake):
    status_urls = _taken_with_outcomes(intake, 5)
    page.goto(f"{intake.url}/impact?periode=30j")
    chart = page.get_by_role("img", name="Actions conjointes par mois")
    assert chart.is_visible()
    assert page.locator("#actions-par-type").get_by_role("row", name="PFMP accueillie 5").is_visible()
    assert page.locator("#actions-par-type").get_by_role("row", name="Visite moins de 5").is_visible()
    month = page.locator("#actions-par-mois tbody tr").last.inner_text()
    assert month.endswith("6"), month
    assert "Lyon" in page.locator("#par-academie").inner_text()
    assert page.locator("#par-origine caption").inner_text() == "Demandes par origine"
    screenshot(page, "intake-impact-outcomes")
    assert serious_axe_violations(page) == []
    page.set_viewport_size({"width": 375, "height": 740})  # a phone: the plot scales, tables scroll
    assert page.evaluate("document.querySelector('#graphe-actions').getBoundingClientRect().width") <= 375
    assert serious_axe_violations(page) == []
    page.goto(status_urls[0])
    steps = page.locator("#chronologie").inner_text()
    assert (
        "Suite de la demande : PFMP accueillie (indiquée par vous)" in steps
        and "Deux élèves en mars." in steps
    )
    assert serious_axe_violations(page) == []
