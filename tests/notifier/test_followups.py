"""A repeat request in the thread: its changes reach the lycées, and a re-route tells those who leave,
brings newcomers in with the history, and tells the company (SQLite and PostgreSQL, real SMTP sink)."""

from __future__ import annotations

import uuid

from sqlmodel import Session, select

from services.notifier.models import Participant
from services.notifier.service import followups, threads
from shared.contracts.events import RequestChange, RequestFollowUp, RoutedRecipient
from shared.contracts.request_schema import NEED_LABELS
from shared.platform.db import unit_of_work
from tests.notifier.support import COMPANY, COPY, LEAD, routed_event
from tests.notifier.test_threads import _deliver, _events

NEWCOMER = "ce.0690009m@ac-lyon.fr"


def _started(engine, ctx, sink, clock):
    first = routed_event()
    with unit_of_work(engine) as session:
        threads.start_thread(session, ctx, first)
    _deliver(engine, ctx.settings, clock)
    sink.messages.clear()
    return first


def _follow(engine, ctx, event):
    with unit_of_work(engine) as session:
        followups.follow_up(session, ctx, event)


def test_the_changes_of_a_repeat_reach_the_lycees(engine, ctx, sink, clock):
    first = _started(engine, ctx, sink, clock)
    _follow(engine, ctx, RequestFollowUp(
        correlation_id="t", request_id=uuid.uuid4(), original_request_id=first.request_id, message="Trois places.",
        changes=[RequestChange(field="places", before="2", after="3"),
                 RequestChange(field="needs", before="pfmp", after="pfmp,visite")]))
    _deliver(engine, ctx.settings, clock)
    assert sorted(m.to for m in sink.messages) == sorted([LEAD, COPY])
    text = sink.to(LEAD)[0].get_body(("plain",)).get_content()
    assert "Nombre de places : 2 → 3" in text and "Trois places." in text
    assert f"Besoins : {NEED_LABELS['pfmp']} → {NEED_LABELS['pfmp']}, {NEED_LABELS['visite']}" in " ".join(text.split())


def test_a_reroute_tells_who_leaves_brings_in_the_newcomer_and_tells_the_company(engine, ctx, sink, clock):
    first = _started(engine, ctx, sink, clock)
    lead_assignment = first.recipients[0].assignment_id  # the lead stays, the copy leaves, a newcomer joins
    newcomer = RoutedRecipient(assignment_id=uuid.uuid4(), rbe_email=NEWCOMER, rbe_name="Luc Petit", role="copy",
                               uais=["0690009M"], lycees=["Lycée des Métiers de l'Électricité"], distance_km=4.0)
    _follow(engine, ctx, RequestFollowUp(
        correlation_id="t", request_id=uuid.uuid4(), original_request_id=first.request_id,
        changes=[RequestChange(field="jobs", before="Boulanger", after="Électricien")], rerouted=True,
        recipients=[first.recipients[0], newcomer]))
    _deliver(engine, ctx.settings, clock)
    assert sorted(m.to for m in sink.messages) == sorted([LEAD, COPY, NEWCOMER, COMPANY])
    assert "n'est plus concerné" in sink.to(COPY)[0].get_body(("plain",)).get_content()
    joined = sink.to(NEWCOMER)[0].get_body(("plain",)).get_content()
    assert "Métiers : Boulanger → Électricien" in joined and "Lycée François Rabelais" in joined
    assert "Métiers : Électricien" in joined  # the request as it stands now
    company = sink.to(COMPANY)[0].get_body(("plain",)).get_content()
    assert "Lycée des Métiers de l'Électricité" in company and "Lycée Jean Moulin" not in company.split("Ce qui")[0]
    with Session(engine) as session:
        people = {p.email: p for p in session.exec(select(Participant)).all()}
    assert not people[COPY].active and people[COPY].status == "withdrawn"
    assert people[NEWCOMER].active and people[LEAD].role == "lead" and people[LEAD].assignment_id == str(lead_assignment)
    assert [e["kind"] for e in _events(engine, "thread.message")] == ["acknowledgement", "status"]

    # Later copies (a reply, a reminder) no longer go to the RBE who left.
    sink.messages.clear()
    _follow(engine, ctx, RequestFollowUp(correlation_id="t", request_id=uuid.uuid4(),
                                         original_request_id=first.request_id, message="Merci !"))
    _deliver(engine, ctx.settings, clock)
    assert sorted(m.to for m in sink.messages) == sorted([LEAD, NEWCOMER])
