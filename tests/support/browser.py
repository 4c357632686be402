"""Headless Debian Chromium through Playwright (never `playwright install`), plus axe-core checks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-quic", "--no-first-run",
]


def pytest_collection_modifyitems(items) -> None:
    """Every test that opens Chromium is marked ``browser``, whether or not its module says so
    (``make test-fast`` deselects them)."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


def chromium_path() -> str:
    path = shutil.which("chromium")
    if not path:
        pytest.fail("chromium introuvable : lancez scripts/deps.sh --test (apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def browser():
    # Module scope, not session: while Playwright's sync API is open it keeps an event loop running
    # in the main thread, which would break any later test that calls asyncio.run().
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="fr-FR")
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture
def page_without_js(browser):
    context = browser.new_context(locale="fr-FR", java_script_enabled=False)
    pg = context.new_page()
    yield pg
    context.close()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def serious_axe_violations(page) -> list[str]:
    """axe-core on the current page; returns the serious/critical violations (empty = good)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {len(v['nodes'])} élément(s)"
        for v in results.response["violations"]
        if v.get("impact") in {"serious", "critical"}
    ]
