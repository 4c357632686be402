"""Real Chromium: the action pages work without JavaScript and pass axe; emails fit a phone."""

from __future__ import annotations

import threading
from email import message_from_bytes, policy

import pytest
import uvicorn
from sqlmodel import Session, select

from services.notifier.app import create_app
from services.notifier.models import OutboundEmail, Participant
from services.notifier.service import threads
from services.notifier.service.addresses import make_action_token
from shared.platform.db import unit_of_work
from tests.notifier.support import COMPANY, LEAD, routed_event
from tests.support.browser import screenshot, serious_axe_violations
from tests.support.eventually import eventually
from tests.support.servers import free_port

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def served(settings, tmp_path, clock):
    port = free_port()
    app = create_app(settings.model_copy(update={"database_url": f"sqlite:///{tmp_path}/pages.db",
                                                 "inbound_enabled": False}), clock)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    eventually(lambda: server.started, timeout=20, what="the page server started")
    yield app, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_action_pages_and_emails_on_a_phone_without_javascript_and_accessible(served, page, page_without_js, ctx):
    app, base = served
    engine = app.state.runtime.engine
    with unit_of_work(engine) as session:
        threads.start_thread(session, ctx, routed_event())
        lead = session.exec(select(Participant).where(Participant.email == LEAD)).one()
        transfer = make_action_token(ctx.settings.secret_key, lead.id, "transfer")
    # axe-core needs JavaScript: audit the pages in a normal browser, on a phone-sized screen.
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(f"{base}/actions/{transfer}")
    assert page.locator("h1").inner_text() == "Transférer à un collègue"
    assert serious_axe_violations(page) == []
    page.goto(f"{base}/actions/jeton-invalide")
    assert "n'est pas valide" in page.locator(".fr-alert").inner_text()
    assert serious_axe_violations(page) == []
    # The form itself works without JavaScript.
    nojs = page_without_js
    nojs.goto(f"{base}/actions/{transfer}")
    nojs.fill("#colleague_email", "collegue@ac-lyon.fr")
    nojs.click("button[type=submit]")
    assert "C'est enregistré" in nojs.locator("h1").inner_text()
    screenshot(nojs, "notifier-action-transfer-done")
    with Session(engine) as session:
        assert session.exec(select(Participant).where(Participant.email == "collegue@ac-lyon.fr")).one().active
    # The emails themselves fit a phone screen and pass axe.
    with Session(engine) as session:
        rows = {r.to_email: r.raw for r in session.exec(select(OutboundEmail))}
    page.set_viewport_size({"width": 360, "height": 740})
    for who in (LEAD, COMPANY):
        html = message_from_bytes(rows[who], policy=policy.default).get_body(("html",)).get_content()
        page.set_content(html)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        assert serious_axe_violations(page) == []
    screenshot(page, "notifier-email-company")
