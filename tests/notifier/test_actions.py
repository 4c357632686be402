"""One-click actions: GET never changes anything, POST applies once; tampered, expired and
replayed tokens are refused with a French page."""

from __future__ import annotations

import html
import json
import re
from email import message_from_bytes, policy

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from services.notifier.app import create_app
from services.notifier.models import OutboundEmail, Participant
from services.notifier.service import threads
from services.notifier.service.addresses import make_action_token
from shared.platform.db import unit_of_work
from shared.platform.outbox import OutboxEvent
from tests.notifier.support import COMPANY, LEAD, routed_event


@pytest.fixture
def client(settings, database_url, clock):
    app = create_app(settings.model_copy(update={"database_url": database_url, "inbound_enabled": False}), clock)
    return TestClient(app)


def _links(engine, to: str) -> dict[str, str]:
    with Session(engine) as session:
        row = session.exec(select(OutboundEmail).where(OutboundEmail.to_email == to)).first()
    text = message_from_bytes(row.raw, policy=policy.default).get_body(("plain",)).get_content()
    found = dict(re.findall(r"- (Je m'en occupe|Ce n'est pas pour nous|Transférer à un collègue) : (\S+)", text))
    return {"accept": found["Je m'en occupe"], "decline": found["Ce n'est pas pour nous"],
            "transfer": found["Transférer à un collègue"]}


def _path(link: str) -> str:
    return "/actions/" + link.rsplit("/actions/", 1)[1]


def _assignment_statuses(engine) -> list[str]:
    with Session(engine) as session:
        rows = session.exec(select(OutboxEvent).where(OutboxEvent.event_type == "assignment.changed")).all()
    return [json.loads(r.payload)["data"]["status"] for r in rows]


def _lead(engine) -> Participant:
    with Session(engine) as session:
        return session.exec(select(Participant).where(Participant.email == LEAD)).one()


def _start(client, ctx):
    engine = client.app.state.runtime.engine
    with unit_of_work(engine) as session:
        threads.start_thread(session, ctx, routed_event())
    return engine


def test_get_confirms_without_changing_and_post_applies_once(client, ctx):
    engine = _start(client, ctx)
    accept = _path(_links(engine, LEAD)["accept"])
    for _ in range(2):  # a mail scanner prefetching the link changes nothing
        page = client.get(accept)
        assert page.status_code == 200 and "Je m'en occupe" in html.unescape(page.text) and "<form" in html.unescape(page.text)
    assert _lead(engine).status == "pending" and _assignment_statuses(engine) == []
    done = client.post(accept)
    assert done.status_code == 200 and "C'est enregistré" in html.unescape(done.text)
    assert _lead(engine).status == "accepted"
    assert _assignment_statuses(engine) == ["accepted"]
    replay = client.post(accept)
    assert replay.status_code == 410 and "déjà été utilisé" in html.unescape(replay.text)
    assert _assignment_statuses(engine) == ["accepted"]
    with Session(engine) as session:  # the company is told who takes care of it
        told = session.exec(select(OutboundEmail).where(OutboundEmail.to_email == COMPANY,
                                                        OutboundEmail.kind == "status")).all()
    assert len(told) == 1


def test_decline_publishes_declined_for_the_matcher(client, ctx):
    engine = _start(client, ctx)
    assert client.post(_path(_links(engine, LEAD)["decline"])).status_code == 200
    lead = _lead(engine)
    assert (lead.status, lead.active) == ("declined", False)
    assert _assignment_statuses(engine) == ["declined"]


def test_transfer_asks_for_a_valid_colleague_email(client, ctx):
    engine = _start(client, ctx)
    transfer = _path(_links(engine, LEAD)["transfer"])
    assert 'name="colleague_email"' in client.get(transfer).text
    for wrong in ("pas-une-adresse", "a" * 400 + "@ac-lyon.fr", LEAD):
        bad = client.post(transfer, data={"colleague_email": wrong})
        assert bad.status_code == 422 and "adresse électronique valide" in html.unescape(bad.text)
    assert _assignment_statuses(engine) == []
    ok = client.post(transfer, data={"colleague_email": "collegue@ac-lyon.fr"})
    assert ok.status_code == 200
    assert _assignment_statuses(engine) == ["transferred"]
    with Session(engine) as session:
        colleague = session.exec(select(Participant).where(Participant.email == "collegue@ac-lyon.fr")).one()
        copy = session.exec(select(OutboundEmail).where(OutboundEmail.to_email == "collegue@ac-lyon.fr")).one()
    assert colleague.role == "lead" and colleague.active
    assert "vous a transféré" in message_from_bytes(copy.raw, policy=policy.default).get_body(("plain",)).get_content()


def test_tampered_and_expired_tokens_are_refused(client, ctx, settings):
    engine = _start(client, ctx)
    accept = _path(_links(engine, LEAD)["accept"])
    tampered = accept[:-4] + ("AAAA" if not accept.endswith("AAAA") else "BBBB")
    for method in (client.get, client.post):
        page = method(tampered)
        assert page.status_code == 400 and "n'est pas valide" in html.unescape(page.text)
    assert client.get("/actions/%00%ff").status_code == 400
    lead = _lead(engine)
    old = make_action_token(settings.secret_key, lead.id, "accept")
    expired_client = TestClient(create_app(
        settings.model_copy(update={"database_url": str(engine.url), "inbound_enabled": False,
                                    "action_ttl_days": -1}), ctx.clock))
    page = expired_client.post(f"/actions/{old}")
    assert page.status_code == 410 and "a expiré" in html.unescape(page.text)
    assert _lead(engine).status == "pending" and _assignment_statuses(engine) == []
