"""Issue 17 items 1 and 8 over real SMTP: replies from another address are relayed (same organisation,
or vouched for) or held with both sides told; forged senders (failing DKIM, misaligned envelope) are held."""

from __future__ import annotations

import json
import re
from pathlib import Path

import dkim
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from pydantic import ValidationError
from sqlmodel import Session, select

from services.notifier.app import create_app
from services.notifier.config import NotifierSettings
from services.notifier.models import InboundEmail
from services.notifier.service.authentication import StaticResolver, org_domain
from services.notifier.service.senders import same_organisation
from tests.notifier.support import COMPANY, COPY, LEAD, reply_bytes, run
from tests.notifier.test_inbound import _address, _outcomes, _send, _system

DATA = Path(__file__).parent / "data"
KEY = (DATA / "dkim_test_key.pem").read_bytes()
PUBLIC = (DATA / "dkim_test_key.pub.b64").read_text().strip()
ZONE = {("mlp._domainkey.ac-lyon.fr", "TXT"): [[b"v=DKIM1; k=rsa; p=" + PUBLIC.encode()]],
        ("mlp._domainkey.boulangerie-exemple.fr", "TXT"): [[b"v=DKIM1; k=rsa; p=" + PUBLIC.encode()]]}
STRANGER = "jean.durand@gmail.com"


@pytest.fixture
def system(engine, ctx, sink, clock):
    ctx.resolver = StaticResolver(ZONE)
    yield from _system(engine, ctx, sink, clock)


@pytest.fixture
def client(system, database_url, clock):
    _, ctx, _ = system
    app = create_app(ctx.settings.model_copy(update={"database_url": database_url, "inbound_enabled": False,
                                                     "admin_token": "jeton-admin"}), clock)
    return TestClient(app)


def _signed(raw: bytes, domain: str) -> bytes:
    return dkim.sign(raw, b"mlp", domain.encode(), KEY, include_headers=[b"from", b"to", b"subject", b"message-id"]) + raw


def _text(msg) -> str:
    return msg.get_body(("plain",)).get_content().replace("\r\n", "\n")


def _held(engine) -> list[InboundEmail]:
    with Session(engine) as session:
        return list(session.exec(select(InboundEmail).where(InboundEmail.outcome == "held")))


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_colleague_at_the_same_academic_domain_is_relayed_as_the_lead(system, sink):
    engine, ctx, sender = system
    rcpt = _address(engine, ctx, LEAD)
    colleague = "sophie.bernard@ac-lyon.fr"
    _send(ctx, rcpt, reply_bytes(sender=f"Sophie Bernard <{colleague}>", to=rcpt, subject="Re: demande",
                                 body="Nous pouvons recevoir vos stagiaires en mars."), colleague)
    assert _outcomes(engine) == ["accepted"]
    run(sender.send_due())
    assert sorted(m.to for m in sink.messages) == sorted([COMPANY, COPY])
    text = _text(sink.to(COMPANY)[0])
    assert "stagiaires en mars" in text
    assert "Sophie Bernard (sophie.bernard@ac-lyon.fr), pour Marie Dupont" in text  # who really wrote


def test_a_webmail_stranger_is_held_both_sides_are_told_and_one_click_relays_once(system, sink, client):
    engine, ctx, sender = system
    rcpt = _address(engine, ctx, LEAD)
    held_before = _metric("mlp_inbound_held_total", reason="unknown_sender")
    _send(ctx, rcpt, reply_bytes(sender=f"Jean Durand <{STRANGER}>", to=rcpt, subject="Re: demande",
                                 body="Je réponds pour le lycée : d'accord pour mars."), STRANGER)
    assert _outcomes(engine) == ["held"]
    assert _held(engine)[0].hold_reason == "unknown_sender"
    assert _metric("mlp_inbound_held_total", reason="unknown_sender") == held_before + 1
    run(sender.send_due())
    assert sorted(m.to for m in sink.messages) == sorted([STRANGER, LEAD])  # nothing reached the company
    explanation = _text(sink.to(STRANGER)[0])
    assert "n'a pas été transmis" in explanation and "depuis l'adresse électronique qui a reçu" in explanation
    assert "transférer" in explanation
    notice = _text(sink.to(LEAD)[0])
    assert STRANGER in notice and "Transmettre quand même" in notice
    link = re.search(r"http://notifier\.test(/relais/\S+)", notice)
    assert link is not None
    path = link.group(1)

    # The review list shows it, without body nor full address; admin only.
    assert client.get("/api/v1/review/inbound").status_code == 401
    review = client.get("/api/v1/review/inbound", headers={"Authorization": "Bearer jeton-admin"})
    assert review.status_code == 200
    [item] = review.json()
    assert item["reason"] == "unknown_sender" and item["sender_domain"] == "gmail.com"
    assert item["participant_role"] == "lead"
    assert STRANGER not in review.text and "mars" not in review.text

    # GET only confirms (mail scanners prefetch links); POST relays once; a replay is refused.
    sink.messages.clear()
    page = client.get(path)
    assert page.status_code == 200 and "Transmettre" in page.text and STRANGER in page.text
    assert _outcomes(engine) == ["held"]
    done = client.post(path)
    assert done.status_code == 200 and "transmis" in done.text
    assert _outcomes(engine) == ["accepted"]
    assert client.post(path).status_code == 410
    run(sender.send_due())
    assert sorted(m.to for m in sink.messages) == sorted([COMPANY, COPY])
    assert "d'accord pour mars" in _text(sink.to(COMPANY)[0])
    assert "Jean Durand (jean.durand@gmail.com), pour Marie Dupont" in _text(sink.to(COMPANY)[0])
    assert client.get("/api/v1/review/inbound", headers={"Authorization": "Bearer jeton-admin"}).json() == []

    # Vouched for: the same sender's next reply in this thread is relayed at once.
    sink.messages.clear()
    _send(ctx, rcpt, reply_bytes(sender=f"Jean Durand <{STRANGER}>", to=rcpt, subject="Re: demande",
                                 body="Précision : accueil à 8 h."), STRANGER)
    assert _outcomes(engine) == ["accepted", "accepted"]
    run(sender.send_due())
    assert "accueil à 8 h" in _text(sink.to(COMPANY)[0])


def test_a_forged_from_with_a_failing_dkim_signature_is_held(system, sink):
    engine, ctx, sender = system
    rcpt = _address(engine, ctx, LEAD)
    genuine = _signed(reply_bytes(sender=LEAD, to=rcpt, subject="Re: demande", body="Rendez-vous lundi."),
                      "ac-lyon.fr")
    forged = genuine.replace(b"Rendez-vous lundi.", b"Envoyez le RIB a pirate.")
    _send(ctx, rcpt, forged, LEAD)
    assert _outcomes(engine) == ["held"]
    [row] = _held(engine)
    assert row.hold_reason == "dkim_fail"
    assert json.loads(row.auth or "{}")["dkim"] == "fail"
    run(sender.send_due())
    assert [m.to for m in sink.messages] == [LEAD]  # the participant is told; nobody else gets it
    assert "vérifications d'authenticité" in _text(sink.to(LEAD)[0])


def test_a_from_not_aligned_with_the_envelope_is_held(system, sink):
    engine, ctx, sender = system
    rcpt = _address(engine, ctx, LEAD)
    _send(ctx, rcpt, reply_bytes(sender=LEAD, to=rcpt, subject="Re: demande", body="Je confirme."),
          "bounce@pirate.example")
    assert _outcomes(engine) == ["held"]
    assert _held(engine)[0].hold_reason == "misaligned"
    run(sender.send_due())
    assert [m.to for m in sink.messages] == [LEAD]


def test_a_correctly_dkim_signed_reply_passes_and_the_result_is_recorded(system, sink):
    engine, ctx, sender = system
    rcpt = _address(engine, ctx, COMPANY)
    _send(ctx, rcpt, _signed(reply_bytes(sender=COMPANY, to=rcpt, subject="Re: demande", body="Merci, à lundi."),
                             "boulangerie-exemple.fr"), COMPANY)
    assert _outcomes(engine) == ["accepted"]
    with Session(engine) as session:
        auth = json.loads(session.exec(select(InboundEmail)).one().auth or "{}")
    assert auth["dkim"] == "pass" and auth["dkim_domain"] == "boulangerie-exemple.fr" and auth["aligned"] is True
    assert auth["client_ip"] == "127.0.0.1"
    run(sender.send_due())
    assert sorted(m.to for m in sink.messages) == sorted([LEAD, COPY])


def test_dns_timeouts_are_no_evidence_and_the_checks_can_be_switched_off(system, sink):
    engine, ctx, sender = system
    rcpt = _address(engine, ctx, LEAD)
    ctx.resolver = StaticResolver(fail=True)  # the DNS does not answer: temperror, not a failure
    _send(ctx, rcpt, _signed(reply_bytes(sender=LEAD, to=rcpt, subject="Re", body="Oui."), "ac-lyon.fr"), LEAD)
    ctx.settings = ctx.settings.model_copy(update={"inbound_auth_checks": False})
    _send(ctx, rcpt, reply_bytes(sender=LEAD, to=rcpt, subject="Re", body="Encore oui."), "bounce@pirate.example")
    assert _outcomes(engine) == ["accepted", "accepted"]


def test_same_organisation_means_nothing_at_webmail_domains():
    assert same_organisation("marie.dubois@ac-lyon.fr", "ce.0690001a@ac-lyon.fr")
    assert same_organisation("paul@mail.boulangerie-exemple.fr", "jeanne@boulangerie-exemple.fr")
    for domain in ("gmail.com", "orange.fr", "free.fr", "hotmail.fr", "outlook.com", "yahoo.fr", "laposte.net",
                   "wanadoo.fr"):
        assert not same_organisation(f"a@{domain}", f"b@{domain}"), domain
    assert not same_organisation("x@ac-lyon.fr", "y@ac-grenoble.fr")
    assert org_domain("mail.ac-lyon.fr") == "ac-lyon.fr" and org_domain("x.education.gouv.fr") == "education.gouv.fr"


def test_dns_settings_fail_fast():
    with pytest.raises(ValidationError):
        NotifierSettings(inbound_dns_timeout_s=0)
    with pytest.raises(ValidationError):
        NotifierSettings(inbound_dns_timeout_s=120)
