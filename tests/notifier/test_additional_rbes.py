"""A lycée with several confirmed RBEs (issue 22): a new request routed to it is ONE thread where the lycée's other
RBEs are copied (the matcher's ``additional_rbes``), one email each, no assignment for them; a replaced RBE is not in
the event and gets nothing new. SQLite and PostgreSQL, real SMTP sink."""

from __future__ import annotations

import uuid

from sqlmodel import Session, select

from services.notifier.models import OutboundEmail, Participant, Thread
from services.notifier.service import followups, threads
from shared.contracts.events import AdditionalRbe, RequestChange, RequestFollowUp, RoutedRecipient
from shared.platform.db import unit_of_work
from tests.notifier.support import COMPANY, COPY, LEAD, routed_event
from tests.notifier.test_threads import _deliver

LOU = "lou.rossi@ac-lyon.fr"  # confirmed next to Marie (LEAD) for Rabelais
CAMILLE = "camille.martin@ac-lyon.fr"  # Rabelais' former RBE, replaced by Marie's naming
RABELAIS, MOULIN = "Lycée François Rabelais", "Lycée Jean Moulin"


def _recipients(**lead) -> list[RoutedRecipient]:
    return [
        RoutedRecipient(assignment_id=uuid.uuid4(), rbe_email=LEAD, rbe_name="Marie Dupont", role="lead",
                        uais=["0690001A"], lycees=[RABELAIS], distance_km=3.2, **lead),
        RoutedRecipient(assignment_id=uuid.uuid4(), rbe_email=COPY, rbe_name="Paul Martin", role="copy",
                        uais=["0690002B"], lycees=[MOULIN], distance_km=7.5),
    ]


def plain(message) -> str:
    return " ".join(message.get_body(("plain",)).get_content().split())


def test_every_confirmed_rbe_of_the_lycee_gets_the_new_request_in_one_thread(engine, ctx, sink, clock):
    # Before the school's new naming, a request went to Camille: her open thread is hers to finish.
    with unit_of_work(engine) as session:
        threads.start_thread(session, ctx, routed_event(recipients=[
            RoutedRecipient(assignment_id=uuid.uuid4(), rbe_email=CAMILLE, role="lead", uais=["0690001A"],
                            lycees=[RABELAIS])]))
    _deliver(engine, ctx.settings, clock)
    sink.messages.clear()

    # Marie and Lou confirmed (Camille replaced): the next request, as the matcher routes it.
    event = routed_event(recipients=_recipients(additional_rbes=[
        AdditionalRbe(email=LOU, name="Lou Rossi", lycees=[RABELAIS]),
        AdditionalRbe(email=COPY.upper(), name="Paul Martin", lycees=[RABELAIS]),  # has an assignment already
    ]))
    with unit_of_work(engine) as session:
        threads.start_thread(session, ctx, event)
    with unit_of_work(engine) as session:  # a redelivered event changes nothing
        threads.start_thread(session, ctx, event)
    assert _deliver(engine, ctx.settings, clock) == 4
    assert sorted(m.to for m in sink.snapshot()) == sorted([LEAD, COPY, LOU, COMPANY])  # one email each
    assert sink.to(CAMILLE) == []  # the replaced RBE gets nothing new

    with Session(engine) as session:
        thread = session.exec(select(Thread).where(Thread.request_id == str(event.request_id))).one()
        people = session.exec(select(Participant).where(Participant.thread_id == thread.id)).all()
        lou = next(p for p in people if p.email == LOU)
        assert (lou.role, lou.assignment_id, lou.label, lou.active) == ("copy", None, RABELAIS, True)
        assert len(people) == 4
        assert len(session.exec(select(OutboundEmail).where(OutboundEmail.to_email == LOU)).all()) == 1
    (lou_copy,) = sink.to(LOU)
    assert lou_copy["Subject"] == thread.subject and lou_copy["References"] == thread.root_message_id  # same thread
    text = plain(lou_copy)
    assert "Boulangerie Exemple" in text and "Marie Dupont" in text and "coordonne la réponse" in text
    assert "Lou Rossi" in plain(sink.to(LEAD)[0])  # the lead sees who else is informed
    ack = plain(sink.to(COMPANY)[0])
    assert f"Lou Rossi ({RABELAIS})" in ack and f"Marie Dupont ({RABELAIS}) coordonne la réponse" in ack


def test_an_escalation_brings_the_new_lead_lycee_s_other_rbes_once(engine, ctx, sink, clock):
    first = routed_event(recipients=[_recipients()[0]])
    with unit_of_work(engine) as session:
        threads.start_thread(session, ctx, first)
    _deliver(engine, ctx.settings, clock)
    sink.messages.clear()
    moulin = _recipients(additional_rbes=[])[1].model_copy(update={"role": "lead", "additional_rbes": [
        AdditionalRbe(email=LOU, name="Lou Rossi", lycees=[MOULIN]),
        AdditionalRbe(email=LEAD, name="Marie Dupont", lycees=[MOULIN]),  # already in the thread
    ]})
    escalation = routed_event(kind="escalation", request_id=first.request_id, recipients=[moulin])
    with unit_of_work(engine) as session:
        threads.escalate(session, ctx, escalation)
    _deliver(engine, ctx.settings, clock)
    assert len(sink.to(LOU)) == 1 and "Boulangerie Exemple" in plain(sink.to(LOU)[0])
    assert len(sink.to(LEAD)) == 1  # the escalation notice only, not the request again
    with Session(engine) as session:
        assert len(session.exec(select(Participant).where(Participant.email == LOU)).all()) == 1


def test_a_reroute_keeps_the_other_rbe_of_a_lycee_still_concerned(engine, ctx, sink, clock):
    first = routed_event(recipients=_recipients(additional_rbes=[AdditionalRbe(email=LOU, name="Lou Rossi",
                                                                               lycees=[RABELAIS])]))
    with unit_of_work(engine) as session:
        threads.start_thread(session, ctx, first)
    _deliver(engine, ctx.settings, clock)
    sink.messages.clear()
    with unit_of_work(engine) as session:  # the company corrected its job: Rabelais stays, Moulin leaves
        followups.follow_up(session, ctx, RequestFollowUp(
            correlation_id="t", request_id=uuid.uuid4(), original_request_id=first.request_id,
            changes=[RequestChange(field="jobs", before="Boulanger", after="Pâtissier")], rerouted=True,
            recipients=[first.recipients[0]]))
    _deliver(engine, ctx.settings, clock)
    assert "n'est plus concerné" in plain(sink.to(COPY)[0])
    (lou,) = sink.to(LOU)
    assert "n'est plus concerné" not in plain(lou) and "Pâtissier" in plain(lou)
    with Session(engine) as session:
        person = session.exec(select(Participant).where(Participant.email == LOU)).one()
        assert person.active and person.status == "pending"


def test_a_reroute_to_a_new_lycee_brings_its_other_rbe_with_the_request(engine, ctx, sink, clock):
    first = routed_event(recipients=_recipients()[:1])  # Rabelais only, no other RBE
    with unit_of_work(engine) as session:
        threads.start_thread(session, ctx, first)
    _deliver(engine, ctx.settings, clock)
    sink.messages.clear()
    moulin = RoutedRecipient(assignment_id=uuid.uuid4(), rbe_email=COPY, rbe_name="Paul Martin", role="lead",
                             uais=["0690002B"], lycees=[MOULIN], distance_km=7.5,
                             additional_rbes=[AdditionalRbe(email=LOU, name="Lou Rossi", lycees=[MOULIN])])
    rerouted = RequestFollowUp(correlation_id="t", request_id=uuid.uuid4(), original_request_id=first.request_id,
                               changes=[RequestChange(field="place", before="Lyon", after="Villeurbanne")],
                               rerouted=True, recipients=[moulin])
    with unit_of_work(engine) as session:
        followups.follow_up(session, ctx, rerouted)
    _deliver(engine, ctx.settings, clock)
    (lou,) = sink.to(LOU)  # one email, with the request and its history
    assert "Villeurbanne" in plain(lou)
    assert len(sink.to(COPY)) == 1 and "n'est plus concerné" in plain(sink.to(LEAD)[0])
    with Session(engine) as session:
        person = session.exec(select(Participant).where(Participant.email == LOU)).one()
        assert person.active and person.role == "copy" and person.assignment_id is None
