"""One-click actions: GET never changes anything, POST applies once; tampered, expired and
replayed tokens are refused with a French page."""

from __future__ import annotations

import html
import json
import re
import uuid
from email import message_from_bytes, policy

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from services.notifier.app import create_app
from services.notifier.models import InboundEmail, OutboundEmail, Participant, Thread
from services.notifier.service import followups, inbound, threads
from services.notifier.service.addresses import make_action_token
from services.notifier.service.mailer import reply_address_of
from shared.contracts.events import RequestChange, RequestErased, RequestFollowUp
from shared.platform.db import unit_of_work
from shared.platform.outbox import OutboxEvent
from tests.notifier.support import COMPANY, COPY, LEAD, reply_bytes, routed_event


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
    return _person(engine, LEAD)


def _person(engine, email: str) -> Participant:
    with Session(engine) as session:
        return session.exec(select(Participant).where(Participant.email == email)).one()


def _assignment_events(engine) -> list[tuple[str, str, str]]:
    with Session(engine) as session:
        rows = session.exec(select(OutboxEvent).where(OutboxEvent.event_type == "assignment.changed")).all()
    return [(d["rbe_email"], d["role"], d["status"]) for d in (json.loads(r.payload)["data"] for r in rows)]


def _text(raw: bytes) -> str:
    return message_from_bytes(raw, policy=policy.default).get_body(("plain",)).get_content()


def _said(page) -> str:
    return " ".join(html.unescape(page.text).split())


def _reply_from(engine, ctx, email: str) -> None:
    """``email`` answers the thread by email, through the real inbound processing."""
    with unit_of_work(engine) as session:
        person = session.exec(select(Participant).where(Participant.email == email)).one()
        rcpt = reply_address_of(ctx, session.get(Thread, person.thread_id), person)
        stored = InboundEmail(rcpt=rcpt, mail_from=email, raw=reply_bytes(
            sender=email, to=rcpt, subject="Re: demande", body="Bonjour, nous pouvons en accueillir deux."))
        session.add(stored)
        session.flush()
        assert inbound.process(session, ctx, stored) == "accepted"


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
    for wrong, said in (("", "adresse électronique valide"), ("pas-une-adresse", "doit contenir un @"),
                        ("a" * 400 + "@ac-lyon.fr", "adresse électronique valide"), (LEAD, "votre propre adresse"),
                        # the same rules as intake's form (issue 17 item 10)
                        ("collegue@gmial.com", "« gmial.com » semble mal orthographié : vouliez-vous dire « gmail.com »")):
        bad = client.post(transfer, data={"colleague_email": wrong})
        assert bad.status_code == 422 and said in html.unescape(bad.text), wrong
        assert 'name="colleague_email"' in bad.text  # the form again, to fix the address
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


def test_a_copy_who_accepts_becomes_the_lead_and_the_former_lead_is_told(client, ctx):
    """Issue 17 item 3: whoever accepts answers. The former lead becomes a copy and is told in the
    thread; the company hears who its contact is; a later « Je m'en occupe » of the former lead says
    who handles the request and changes nothing."""
    engine = _start(client, ctx)
    lead_links, copy_links = _links(engine, LEAD), _links(engine, COPY)
    assert client.post(_path(copy_links["accept"])).status_code == 200
    copy, lead = _person(engine, COPY), _person(engine, LEAD)
    assert (copy.role, copy.status, copy.active) == ("lead", "accepted", True)
    assert (lead.role, lead.status, lead.active) == ("copy", "pending", True)
    assert _assignment_events(engine) == [(COPY, "lead", "accepted")]  # the matcher and intake follow
    with Session(engine) as session:
        told = {r.to_email: _text(r.raw) for r in session.exec(select(OutboundEmail).where(
            OutboundEmail.kind == "status"))}
    assert set(told) == {COMPANY, LEAD}
    assert "Paul Martin (Lycée Jean Moulin) a indiqué s'occuper de cette demande" in told[LEAD]
    assert "ne recevrez plus de relance" in told[LEAD]
    assert "Je m'en occupe :" not in told[LEAD] and "Ce n'est pas pour nous :" in told[LEAD]
    assert "votre interlocuteur" in told[COMPANY]
    for method in (client.get, client.post):  # the former lead's own accept link, later
        late = method(_path(lead_links["accept"]))
        assert late.status_code == 409
        assert "Paul Martin (Lycée Jean Moulin) s'occupe déjà de cette demande" in _said(late)
    assert _assignment_events(engine) == [(COPY, "lead", "accepted")]
    assert (_person(engine, LEAD).role, _person(engine, COPY).role) == ("copy", "lead")


def test_a_copy_clicking_accept_after_the_lead_accepted_is_told_who_handles_it(client, ctx):
    engine = _start(client, ctx)
    copy_accept = _path(_links(engine, COPY)["accept"])
    assert client.post(_path(_links(engine, LEAD)["accept"])).status_code == 200
    page = client.post(copy_accept)
    assert page.status_code == 409 and "Rien n'a été modifié" in _said(page)
    assert "Marie Dupont (Lycée François Rabelais) s'occupe déjà de cette demande" in _said(page)
    assert [(p.role, p.status) for p in (_person(engine, LEAD), _person(engine, COPY))] == [
        ("lead", "accepted"), ("copy", "pending")]
    assert _assignment_statuses(engine) == ["accepted"]
    _reply_from(engine, ctx, LEAD)  # the lead answered by email: the copy is told so
    assert "a déjà répondu à l'entreprise" in _said(client.get(copy_accept))


def test_whoever_handles_the_request_can_transfer_it(client, ctx):
    """Issue 17 item 14: after « Je m'en occupe » and even after answering, the transfer link works."""
    engine = _start(client, ctx)
    links = _links(engine, LEAD)
    assert client.post(_path(links["accept"])).status_code == 200
    _reply_from(engine, ctx, LEAD)
    assert _lead(engine).status == "answered"
    assert client.get(_path(links["transfer"])).status_code == 200
    done = client.post(_path(links["transfer"]), data={"colleague_email": "collegue@ac-lyon.fr"})
    assert done.status_code == 200 and "C'est enregistré" in _said(done)
    assert _assignment_statuses(engine)[-1] == "transferred"


def test_refusals_say_what_actually_happened(client, ctx):
    """Issue 17 item 14: declined, transferred, answered and erased each get their own message."""
    engine = _start(client, ctx)
    lead, copy = _links(engine, LEAD), _links(engine, COPY)
    assert client.post(_path(lead["decline"])).status_code == 200
    page = client.get(_path(lead["transfer"]))
    assert page.status_code == 409 and "Vous avez indiqué que cette demande n'était pas pour vous" in _said(page)
    assert client.post(_path(copy["transfer"]), data={"colleague_email": "collegue@ac-lyon.fr"}).status_code == 200
    page = client.get(_path(copy["accept"]))
    assert page.status_code == 409
    assert "Vous avez transféré cette demande à un collègue (collegue@ac-lyon.fr)" in _said(page)
    colleague = _links(engine, "collegue@ac-lyon.fr")
    _reply_from(engine, ctx, "collegue@ac-lyon.fr")
    assert "Vous avez déjà répondu à l'entreprise par courriel" in _said(client.get(_path(colleague["accept"])))
    with unit_of_work(engine) as session:
        request_id = session.exec(select(Thread)).one().request_id
        threads.erase(session, ctx, RequestErased(correlation_id="t", request_id=request_id,
                                                  reason="company_request"))
    for method in (client.get, client.post):
        page = method(_path(colleague["decline"]))
        assert page.status_code == 410 and "effacée à la demande de l'entreprise" in _said(page)
        assert "pas valide" not in _said(page)


def test_an_rbe_withdrawn_by_a_reroute_is_told_why(client, ctx):
    """The company changed its job: the copy's links say it is no longer concerned, not « pas valide »."""
    engine = client.app.state.runtime.engine
    first = routed_event()
    with unit_of_work(engine) as session:
        threads.start_thread(session, ctx, first)
    copy = _links(engine, COPY)
    with unit_of_work(engine) as session:
        followups.follow_up(session, ctx, RequestFollowUp(
            correlation_id="t", request_id=uuid.uuid4(), original_request_id=first.request_id,
            changes=[RequestChange(field="jobs", before="Boulanger", after="Électricien")], rerouted=True,
            recipients=[first.recipients[0]]))
    for method in (client.get, client.post):
        page = method(_path(copy["accept"]))
        assert page.status_code == 409 and "votre établissement n'est plus concerné" in _said(page)
