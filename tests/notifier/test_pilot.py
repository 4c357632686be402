"""Outside the pilot académies (issue 20): the notifier mails the académie's contact and the company in one
thread, both told honestly why (SQLite and PostgreSQL, real sender, real SMTP sink)."""

from __future__ import annotations

from sqlmodel import Session, select

from services.notifier.models import Participant
from services.notifier.sender import OutboundSender
from services.notifier.service import threads
from shared.platform.db import unit_of_work
from tests.notifier.support import COMPANY, routed_event, run

CONTACT = "entreprises@ac-grenoble.test"
NOTICE = (
    "Le service s'ouvre d'abord dans l'académie de Lyon ; votre demande sera transmise à la personne "
    "référente entreprises de l'académie de Grenoble (à défaut, l'équipe nationale de MonLycéePro)."
)


def _text(message) -> str:
    return " ".join(message.get_body(("plain",)).get_content().split())


def test_outside_the_pilot_the_contact_and_the_company_are_told_why(engine, ctx, sink, clock):
    event = routed_event(recipients=[], unroutable=True).model_copy(
        update={"fallback_email": CONTACT, "in_pilot": False, "pilot_notice": NOTICE}
    )
    with unit_of_work(engine) as session:
        threads.start_thread(session, ctx, event)
    sender = OutboundSender(engine, ctx.settings, clock)
    while run(sender.send_due()):
        pass
    assert sorted(m.to for m in sink.messages) == sorted([CONTACT, COMPANY])
    contact = _text(sink.to(CONTACT)[0])
    assert "hors des académies pilotes de MonLycéePro : elle n'a été transmise à aucun lycée" in contact
    assert f"Ce que l'entreprise a lu avant d'envoyer sa demande : « {NOTICE} »" in contact
    assert "Aucun lycée proche ne correspond" not in contact  # not the « nothing relevant » story
    company = _text(sink.to(COMPANY)[0])
    assert NOTICE in company and "Aucun lycée professionnel proche" not in company
    with Session(engine) as session:
        roles = {p.email: p.role for p in session.exec(select(Participant)).all()}
    assert roles == {CONTACT: "fallback", COMPANY: "company"}
