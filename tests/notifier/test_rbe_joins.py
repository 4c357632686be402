"""A lycée's newly confirmed RBE (CatalogChanged.rbe_changes) joins the lycée's open threads with their history,
once (SQLite and PostgreSQL, real SMTP sink)."""

from __future__ import annotations

import uuid

from sqlmodel import Session, select

from services.notifier import repository as repo
from services.notifier.models import OutboundEmail, Participant
from services.notifier.service import followups, rbe_changes, threads
from shared.contracts.events import CatalogChanged, RbeChange, RequestChange, RequestFollowUp
from shared.platform.db import unit_of_work
from tests.notifier.support import COPY, LEAD, routed_event
from tests.notifier.test_threads import _deliver

NEW_RBE = "sophie.bernard@ac-lyon.fr"


def change_event(lycee: str = "Lycée François Rabelais", previous: str = LEAD) -> CatalogChanged:
    return CatalogChanged(
        correlation_id="t",
        uais=["0690001A"],
        change="rbe",
        rbe_changes=[
            RbeChange(
                uai="0690001A",
                lycee_name=lycee,
                previous_email=previous,
                new_email=NEW_RBE,
                new_name="Sophie Bernard",
            )
        ],
    )


def join(engine, ctx, event: CatalogChanged) -> int:
    with unit_of_work(engine) as session:
        return rbe_changes.join_new_rbe(session, ctx, event)


def test_the_new_rbe_joins_the_open_thread_with_its_history_once(engine, ctx, sink, clock):
    first = routed_event()
    with unit_of_work(engine) as session:
        threads.start_thread(session, ctx, first)
        followups.follow_up(
            session,
            ctx,
            RequestFollowUp(
                correlation_id="t",
                request_id=uuid.uuid4(),
                original_request_id=first.request_id,
                message="Finalement trois places.",
                changes=[RequestChange(field="places", before="2", after="3")],
            ),
        )
    _deliver(engine, ctx.settings, clock)
    sink.messages.clear()

    assert (
        join(engine, ctx, change_event(lycee="Lycée Jean Moulin")) == 0
    )  # LEAD is not that lycée's address there
    assert join(engine, ctx, change_event()) == 1
    assert join(engine, ctx, change_event()) == 0  # already in the thread: nothing twice
    _deliver(engine, ctx.settings, clock)
    (message,) = sink.to(NEW_RBE)
    text = " ".join(message.get_body(("plain",)).get_content().split())
    assert "Vous êtes désormais responsable du bureau des entreprises" in text
    assert "Finalement trois places." in text and "Boulangerie Exemple" in text  # the history and the request
    assert [m.to for m in sink.snapshot()] == [NEW_RBE]  # nobody else is mailed
    with Session(engine) as session:
        joined = session.exec(select(Participant).where(Participant.email == NEW_RBE)).one()
        assert joined.role == "copy" and joined.active and joined.label == "Lycée François Rabelais"
        assert len(session.exec(select(OutboundEmail).where(OutboundEmail.to_email == NEW_RBE)).all()) == 1
        lead = session.exec(select(Participant).where(Participant.email == LEAD)).one()
        assert lead.active  # the previous address stays in the thread (it may have started answering)
    assert join(engine, ctx, change_event(previous=COPY, lycee="Lycée Jean Moulin")) == 0  # already in it


def test_an_erased_thread_gains_nobody(engine, ctx, sink, clock):
    first = routed_event()
    with unit_of_work(engine) as session:
        threads.start_thread(session, ctx, first)
    with unit_of_work(engine) as session:
        thread = repo.thread_by_request(session, str(first.request_id))
        assert thread is not None
        thread.erased = True
        session.add(thread)
    assert join(engine, ctx, change_event()) == 0
