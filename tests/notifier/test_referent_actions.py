"""What the académie referents' back-office asks of the notifier (admin API, real SMTP in and out, SQLite
and PostgreSQL): a message to the company in the request's thread, a held reply relayed or set aside once,
the requests nobody answered after the give-up step; each scoped to the referent's académie and audited."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from services.notifier.app import create_app
from services.notifier.models import ReferentAction, Thread
from services.notifier.service.authentication import StaticResolver
from services.notifier.tasks import reminder_pass
from tests.notifier.support import COMPANY, COPY, LEAD, reply_bytes, run
from tests.notifier.test_inbound import _address, _send, _system
from tests.support.audit import thread_root

pytestmark = pytest.mark.timeout(60)
AUTH = {"Authorization": "Bearer jeton-admin"}
CAMILLE = {"actor": "camille.martin@ac-lyon.fr", "actor_name": "Camille Martin", "academie": "Lyon"}


@pytest.fixture
def system(engine, ctx, sink, clock):
    ctx.resolver = StaticResolver({})
    yield from _system(engine, ctx, sink, clock)


@pytest.fixture
def client(system, database_url, clock):
    _, ctx, _ = system
    app = create_app(ctx.settings.model_copy(update={"database_url": database_url, "inbound_enabled": False,
                                                     "admin_token": "jeton-admin"}), clock)
    return TestClient(app)


def _request_id(engine) -> str:
    with Session(engine) as session:
        return session.exec(select(Thread)).one().request_id


def _post(client, path: str, key: str, **body):
    return client.post(path, json=body, headers={**AUTH, "Idempotency-Key": key})


def test_a_referent_writes_to_the_company_in_the_thread_once(system, sink, client):
    engine, _, sender = system
    url = f"/api/v1/review/requests/{_request_id(engine)}/message"
    text = "Bonjour, je suis la référente de l'académie : je vous propose un lycée d'ici vendredi."
    assert _post(client, url, "cle-message-1", text=text, **{**CAMILLE, "academie": "Rennes"}).status_code == 404
    assert _post(client, url, "cle-message-1", text=text, **CAMILLE).json() == {"done": True}
    assert _post(client, url, "cle-message-1", text=text, **CAMILLE).json() == {"done": False}  # a double click
    run(sender.send_due())
    assert sorted(m.to for m in sink.messages) == sorted([COMPANY, LEAD, COPY])
    company = sink.to(COMPANY)[0]
    body = company.get_body(("plain",)).get_content()
    assert "Camille Martin, référent(e) entreprises de l'académie de Lyon a écrit" in body and text in body
    with Session(engine) as session:
        root = session.exec(select(Thread)).one().root_message_id
        [audit] = session.exec(select(ReferentAction)).all()
    assert thread_root(company) == root
    assert (audit.action, audit.actor, audit.detail) == ("message", "camille.martin@ac-lyon.fr", text)


def test_a_held_reply_is_settled_once_and_only_within_the_academie(system, sink, client):
    engine, ctx, sender = system
    rcpt = _address(engine, ctx, LEAD)
    stranger = "jean.durand@gmail.com"
    _send(ctx, rcpt, reply_bytes(sender=f"Jean Durand <{stranger}>", to=rcpt, subject="Re: demande",
                                 body="Je réponds pour le lycée : d'accord pour mars."), stranger)
    assert client.get("/api/v1/review/inbound", params={"academie": "Rennes"}, headers=AUTH).json() == []
    [held] = client.get("/api/v1/review/inbound", params={"academie": "Lyon"}, headers=AUTH).json()
    assert held["company_name"] == "Boulangerie Exemple" and held["academie"] == "Lyon"
    run(sender.send_due())
    sink.messages.clear()
    url = f"/api/v1/review/inbound/{held['inbound_id']}"
    assert _post(client, url, "cle-relais-0", release=True, **{**CAMILLE, "academie": "Rennes"}).status_code == 404
    assert _post(client, url, "cle-relais-1", release=True, **CAMILLE).json() == {"done": True}
    second = _post(client, url, "cle-ecart-2", release=False, actor="dominique.petit@ac-lyon.fr",
                   actor_name="Dominique Petit", academie="Lyon")
    assert second.status_code == 409 and second.json()["detail"] == "Déjà traité par Camille Martin à 10:00."
    run(sender.send_due())
    assert "d'accord pour mars" in sink.to(COMPANY)[0].get_body(("plain",)).get_content()
    assert client.get("/api/v1/review/inbound", params={"academie": "Lyon"}, headers=AUTH).json() == []


def test_requests_nobody_answered_after_the_give_up_are_listed_by_academie(system, client, clock):
    engine, ctx, _ = system
    assert client.get("/api/v1/review/unanswered", params={"academie": "Lyon"}, headers=AUTH).json() == []
    clock.advance(days=ctx.settings.give_up_days + 1)
    reminder_pass(engine, ctx)
    [row] = client.get("/api/v1/review/unanswered", params={"academie": "Lyon"}, headers=AUTH).json()
    assert row["request_id"] == _request_id(engine) and row["company_name"] == "Boulangerie Exemple"
    assert any("Marie Dupont" in asked and "(expired)" in asked for asked in row["asked"])
    assert client.get("/api/v1/review/unanswered", params={"academie": "Rennes"}, headers=AUTH).json() == []
    assert client.get("/api/v1/review/unanswered").status_code == 401
