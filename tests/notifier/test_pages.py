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


def test_outcome_choice_page_works_without_javascript_and_is_accessible(served, page, page_without_js, ctx, clock):
    """« Qu'est-ce qui en est sorti ? »: the page after the click, its optional free text, its answer."""
    from services.notifier.outcomes.models import OutcomeQuestion
    from services.notifier.service.addresses import make_outcome_token
    from services.notifier.tasks import outcome_pass
    from tests.notifier.support import take_request

    app, base = served
    engine = app.state.runtime.engine
    take_request(engine, ctx)
    clock.advance(days=30)
    assert outcome_pass(engine, ctx)["asked"] == 2
    with Session(engine) as session:
        question = session.exec(select(OutcomeQuestion).where(OutcomeQuestion.respondent == "company")).one()
    link = f"{base}/suite/{make_outcome_token(ctx.settings.secret_key, question.id, 'apprenti')}"
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(link)
    assert page.locator("h1").inner_text() == "Qu'est-ce qui en est sorti ?"
    assert serious_axe_violations(page) == []
    page_without_js.goto(link)
    page_without_js.fill("#note", "Une apprentie en CAP boulanger à la rentrée.")
    page_without_js.click("button[type=submit]")
    assert "Apprenti·e recruté·e" in page_without_js.locator(".fr-alert").inner_text()
    page.goto(link)  # the same link again: refused, says what was recorded
    assert "déjà été utilisé" in page.locator(".fr-alert").inner_text()
    assert serious_axe_violations(page) == []
    # The email itself: eight choices that fit a phone screen.
    with Session(engine) as session:
        raw = session.exec(select(OutboundEmail).where(OutboundEmail.kind == "outcome",
                                                       OutboundEmail.to_email == COMPANY)).one().raw
    page.set_viewport_size({"width": 360, "height": 740})
    page.set_content(message_from_bytes(raw, policy=policy.default).get_body(("html",)).get_content())
    assert page.locator("a").count() == 8
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert serious_axe_violations(page) == []
