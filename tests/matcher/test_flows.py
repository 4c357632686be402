"""Use cases on a real database (SQLite and PostgreSQL): stored decisions, assignments, outbox events."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from services.matcher import repository as repo
from services.matcher.models import Assignment, ReviewItem, RoutedRequest, RoutingDecision
from services.matcher.service import flows
from services.matcher.service.manual import ManualRouteError, route_manually
from shared.contracts.events import AssignmentChanged, RequestErased, event_from_payload
from shared.platform.db import make_engine, unit_of_work
from shared.platform.outbox import OutboxEvent
from tests.matcher.fakes import submitted


def outbox(engine, event_type: str | None = None):
    with Session(engine) as s:
        rows = s.exec(select(OutboxEvent).order_by(OutboxEvent.id)).all()
    events = [event_from_payload(json.loads(r.payload)) for r in rows]
    return [e for e in events if event_type is None or e.event_type == event_type]


def handle(engine, fn, *args):
    with unit_of_work(engine) as session:
        return fn(session, *args)


def test_routing_stores_decision_assignments_and_publishes_through_outbox(engine, fake_model, matcher_settings):
    event = submitted("69007", ["pfmp"], ["boulanger"], status_url="http://127.0.0.1:8000/suivi/jeton")
    outcome = handle(engine, flows.route_submitted, event, fake_model, matcher_settings)
    assert outcome.outcome == "routed" and outcome.recipients == 3 and outcome.academie == "Lyon"
    with Session(engine) as s:
        decision = s.exec(select(RoutingDecision)).one()
        assignments = repo.assignments_of(s, str(event.request_id))
    candidates = json.loads(decision.candidates)
    assert [c["uai"] for c in candidates if c["chosen"]] == ["0690001A", "0690002B", "0690003C"]
    assert all(c["reasons"] for c in candidates)
    assert [a.role for a in assignments].count("lead") == 1
    (routed,) = outbox(engine, "request.routed")
    assert routed.request_id == event.request_id and routed.kind == "initial" and not routed.unroutable
    assert routed.status_url == event.status_url  # the notifier repeats it in the company's acknowledgement
    assert {str(r.assignment_id) for r in routed.recipients} == {a.id for a in assignments}
    assert routed.recipients[0].role == "lead" and routed.recipients[0].formations
    assert "Référent principal" in routed.explanation
    with Session(engine) as s:
        assert repo.month_loads(s, datetime.now(UTC).strftime("%Y-%m")) == {"0690001A": 1, "0690002B": 1, "0690003C": 1}


def test_same_request_twice_in_a_week_is_routed_once_and_followed_up(engine, fake_model, matcher_settings):
    first = submitted("69007", ["pfmp", "visite"], ["boulanger"], submitted_at=datetime.now(UTC) - timedelta(days=6))
    again = submitted("69007", ["pfmp"], ["boulanger"])
    handle(engine, flows.route_submitted, first, fake_model, matcher_settings)
    outcome = handle(engine, flows.route_submitted, again, fake_model, matcher_settings)
    assert outcome.outcome == "followup"
    with Session(engine) as s:
        assert len(s.exec(select(RoutingDecision)).all()) == 1
        assert s.get(RoutedRequest, str(again.request_id)).original_request_id == str(first.request_id)
    (followup,) = outbox(engine, "request.followup")
    assert followup.original_request_id == first.request_id and followup.request_id == again.request_id
    # same company by email (no SIRET), within the window -> follow-up too
    by_email = submitted("69007", ["pfmp"], ["boulanger"], siret=None, email="Patron@Boulangerie.test")
    first_email = submitted("69007", ["pfmp"], ["boulanger"], siret=None, email="patron@boulangerie.test",
                            submitted_at=datetime.now(UTC) - timedelta(days=1))
    handle(engine, flows.route_submitted, first_email, fake_model, matcher_settings)
    assert handle(engine, flows.route_submitted, by_email, fake_model, matcher_settings).outcome == "followup"


def test_other_need_or_after_the_window_is_routed_again(engine, fake_model, matcher_settings):
    old = submitted("69007", ["pfmp"], ["boulanger"], submitted_at=datetime.now(UTC) - timedelta(days=22))
    handle(engine, flows.route_submitted, old, fake_model, matcher_settings)
    assert handle(engine, flows.route_submitted, submitted("69007", ["pfmp"], ["boulanger"]), fake_model,
                  matcher_settings).outcome == "routed"
    assert handle(engine, flows.route_submitted, submitted("69007", ["apprentissage"], ["boulanger"]), fake_model,
                  matcher_settings).outcome == "routed"


def test_redelivered_request_is_not_routed_twice(engine, fake_model, matcher_settings):
    event = submitted("69007")
    handle(engine, flows.route_submitted, event, fake_model, matcher_settings)
    replay = event.model_copy(update={"event_id": uuid.uuid4()})
    assert handle(engine, flows.route_submitted, replay, fake_model, matcher_settings).outcome == "skipped"
    assert len(outbox(engine, "request.routed")) == 1


def test_nothing_relevant_goes_to_academie_fallback_and_review_queue(engine, fake_model, matcher_settings):
    lyon = submitted("69007", ["pfmp"], ["astronaute"])
    corsica = submitted("20000", ["pfmp"], ["boulanger"], siret="98765432100011")
    assert handle(engine, flows.route_submitted, lyon, fake_model, matcher_settings).outcome == "unroutable"
    assert handle(engine, flows.route_submitted, corsica, fake_model, matcher_settings).outcome == "unroutable"
    events = {e.request_id: e for e in outbox(engine, "request.routed")}
    assert events[lyon.request_id].fallback_email == "entreprises@ac-lyon.test"  # académie fallback
    assert events[corsica.request_id].fallback_email == "national@monlyceepro.test"  # none for Corse: global
    assert events[lyon.request_id].unroutable and events[lyon.request_id].recipients == []
    with Session(engine) as s:
        queue = repo.list_review(s)
    assert {i.request_id for i in queue} == {str(lyon.request_id), str(corsica.request_id)}


def test_unique_assignment_per_request_and_rbe(engine):
    def row(**kw):
        return Assignment(id=str(uuid.uuid4()), request_id="r1", routing_id="x", rbe_id="rbe@x.fr",
                          rbe_email="rbe@x.fr", role="lead", uais="0690001A", lycees="[]", formations="[]",
                          reasons="[]", **kw)

    with Session(engine) as s:
        s.add(row())
        s.commit()
        s.add(row())
        with pytest.raises(IntegrityError):
            s.commit()
        s.rollback()
        assert len(s.exec(select(Assignment)).all()) == 1


def test_escalation_moves_the_lead_to_the_next_untried_candidate(engine, fake_model, matcher_settings):
    event = submitted("69007", ["pfmp"], ["boulanger"])
    handle(engine, flows.route_submitted, event, fake_model, matcher_settings)
    with Session(engine) as s:
        lead = next(a for a in repo.assignments_of(s, str(event.request_id)) if a.role == "lead")
    changed = AssignmentChanged(correlation_id="t", request_id=event.request_id, assignment_id=uuid.UUID(lead.id),
                                rbe_email=lead.rbe_email, role="lead", status="declined")
    assert handle(engine, flows.escalate, changed, fake_model, matcher_settings).outcome == "escalated"
    with Session(engine) as s:
        rows = repo.assignments_of(s, str(event.request_id))
    leads = [a for a in rows if a.role == "lead"]
    assert len(leads) == 1 and leads[0].id != lead.id
    assert leads[0].uais == "0690004D" or leads[0].uais == "0690005E"  # Rabelais: next best, not yet tried
    escalation = outbox(engine, "request.routed")[-1]
    assert escalation.kind == "escalation" and [r.role for r in escalation.recipients] == ["lead"]
    assert escalation.recipients[0].assignment_id == uuid.UUID(leads[0].id)
    # a copy declining changes nothing
    copy = next(a for a in rows if a.role == "copy" and a.status == "pending")
    copy_changed = changed.model_copy(update={"event_id": uuid.uuid4(), "assignment_id": uuid.UUID(copy.id),
                                              "role": "copy"})
    assert handle(engine, flows.escalate, copy_changed, fake_model, matcher_settings).outcome == "skipped"


def test_a_lead_transferring_to_a_colleague_keeps_the_lead_role(engine, fake_model, matcher_settings):
    event = submitted("69007", ["pfmp"], ["boulanger"])
    handle(engine, flows.route_submitted, event, fake_model, matcher_settings)
    with Session(engine) as s:
        lead = next(a for a in repo.assignments_of(s, str(event.request_id)) if a.role == "lead")
    changed = AssignmentChanged(correlation_id="t", request_id=event.request_id, assignment_id=uuid.UUID(lead.id),
                                rbe_email=lead.rbe_email, role="lead", status="transferred",
                                transfer_to_email="collegue@example.fr")
    assert handle(engine, flows.escalate, changed, fake_model, matcher_settings).outcome == "skipped"
    with Session(engine) as s:
        rows = repo.assignments_of(s, str(event.request_id))
    assert [a.id for a in rows if a.role == "lead"] == [lead.id]
    assert [e.kind for e in outbox(engine, "request.routed")] == ["initial"]


def test_a_copy_accepting_becomes_the_lead_so_the_former_lead_declining_escalates_nothing(
        engine, fake_model, matcher_settings):
    """The notifier makes a copy RBE who clicks « Je m'en occupe » the lead (issue 17 item 3): the
    matcher follows, or the former lead's later decline would hand the request to a third lycée."""
    event = submitted("69007", ["pfmp"], ["boulanger"])
    handle(engine, flows.route_submitted, event, fake_model, matcher_settings)
    with Session(engine) as s:
        rows = repo.assignments_of(s, str(event.request_id))
    lead = next(a for a in rows if a.role == "lead")
    copy = next(a for a in rows if a.role == "copy")
    accepted = AssignmentChanged(correlation_id="t", request_id=event.request_id, assignment_id=uuid.UUID(copy.id),
                                 rbe_email=copy.rbe_email, role="lead", status="accepted")
    assert handle(engine, flows.escalate, accepted, fake_model, matcher_settings).outcome == "skipped"
    with Session(engine) as s:
        roles = {a.id: (a.role, a.status) for a in repo.assignments_of(s, str(event.request_id))}
    assert roles[copy.id] == ("lead", "accepted") and roles[lead.id] == ("copy", "pending")
    declined = AssignmentChanged(correlation_id="t", request_id=event.request_id, assignment_id=uuid.UUID(lead.id),
                                 rbe_email=lead.rbe_email, role="copy", status="declined")
    assert handle(engine, flows.escalate, declined, fake_model, matcher_settings).outcome == "skipped"
    assert [e.kind for e in outbox(engine, "request.routed")] == ["initial"]


def test_exhausted_escalation_lands_in_review_and_admin_routes_by_hand(engine, fake_model, matcher_settings):
    event = submitted("97400", ["pfmp"], ["boulanger"])  # one candidate only in La Réunion
    handle(engine, flows.route_submitted, event, fake_model, matcher_settings)
    with Session(engine) as s:
        (lead,) = repo.assignments_of(s, str(event.request_id))
    changed = AssignmentChanged(correlation_id="t", request_id=event.request_id, assignment_id=uuid.UUID(lead.id),
                                rbe_email=lead.rbe_email, role="lead", status="expired")
    handle(engine, flows.escalate, changed, fake_model, matcher_settings)
    with Session(engine) as s:
        assert s.get(ReviewItem, str(event.request_id)).reason == "escalation_exhausted"
    assert outbox(engine, "request.routed")[-1].unroutable
    with pytest.raises(ManualRouteError) as err:
        handle(engine, route_manually, str(event.request_id), ["9999999Z"], fake_model, matcher_settings)
    assert "inconnu" in str(err.value)
    outcome = handle(engine, route_manually, str(event.request_id), ["9740001H"], fake_model, matcher_settings)
    assert outcome.recipients == 1
    with Session(engine) as s:
        assert s.get(ReviewItem, str(event.request_id)).resolved_at is not None
    last = outbox(engine, "request.routed")[-1]
    assert last.recipients[0].uais == ["9740001H"] and last.recipients[0].role == "lead"


def test_erasure_drops_personal_data_from_stored_request(engine, fake_model, matcher_settings):
    event = submitted("69007")
    handle(engine, flows.route_submitted, event, fake_model, matcher_settings)
    with unit_of_work(engine) as s:  # the relay published the routed event: its row still holds the contact
        for row in s.exec(select(OutboxEvent)).all():
            row.published_at = datetime.now(UTC)
            s.add(row)
    assert any(e.contact.email == "patron@boulangerie.test" for e in outbox(engine, "request.routed"))
    handle(engine, flows.erase, RequestErased(correlation_id="t", request_id=event.request_id,
                                              reason="company_request"))
    with Session(engine) as s:
        row = s.get(RoutedRequest, str(event.request_id))
        decisions = s.exec(select(RoutingDecision)).all()
    assert row.erased_at is not None and row.company_key is None
    assert "patron@boulangerie.test" not in row.payload and "Camille" not in row.payload
    assert "Nous cherchons" not in row.payload
    assert all("patron@" not in d.candidates + d.explanation for d in decisions)
    assert outbox(engine) == []  # published copies dropped


def test_month_loads_follow_rollbacks_and_other_writers(engine, database_url):
    month = "2026-11"
    with unit_of_work(engine) as s:
        repo.increment_loads(s, ["0690001A", "0690002B", "0690001A"], month)
    with Session(engine) as s:
        assert repo.month_loads(s, month) == {"0690001A": 2, "0690002B": 1}
    with Session(engine) as s:  # counted, then rolled back: the cached copy went ahead of the table
        repo.increment_loads(s, ["0690003C", "0690001A"], month)
        assert repo.month_loads(s, month) == {"0690001A": 3, "0690002B": 1, "0690003C": 1}
        s.rollback()
    with Session(engine) as s:
        assert repo.month_loads(s, month) == {"0690001A": 2, "0690002B": 1}
    other = make_engine(database_url)  # another matcher process
    try:
        with unit_of_work(other) as s:
            repo.increment_loads(s, ["0690002B", "0690004D"], month)
    finally:
        other.dispose()
    with Session(engine) as s:
        assert repo.month_loads(s, month) == {"0690001A": 2, "0690002B": 2, "0690004D": 1}
        assert repo.month_loads(s, "2026-12") == {}


def test_after_a_decline_a_copy_training_for_the_job_leads_before_a_looser_untried_candidate(
        engine, fake_model, matcher_settings):
    event = submitted("69007", ["pfmp"], ["boulanger"])
    handle(engine, flows.route_submitted, event, fake_model, matcher_settings)
    with unit_of_work(engine) as s:
        decision = s.exec(select(RoutingDecision)).one()
        candidates = json.loads(decision.candidates)
        for c in candidates:
            if not c["chosen"]:
                c["relevance"] = 0.3  # the untried ones match only through a weak link
        decision.candidates = json.dumps(candidates, ensure_ascii=False)
        s.add(decision)
    with Session(engine) as s:
        rows = repo.assignments_of(s, str(event.request_id))
    lead = next(a for a in rows if a.role == "lead")
    copies = {a.id for a in rows if a.role == "copy"}
    changed = AssignmentChanged(correlation_id="t", request_id=event.request_id, assignment_id=uuid.UUID(lead.id),
                                rbe_email=lead.rbe_email, role="lead", status="declined")
    assert handle(engine, flows.escalate, changed, fake_model, matcher_settings).outcome == "escalated"
    with Session(engine) as s:
        leads = [a for a in repo.assignments_of(s, str(event.request_id)) if a.role == "lead"]
    assert len(leads) == 1 and leads[0].id in copies  # promoted, nobody new asked
    escalation = outbox(engine, "request.routed")[-1]
    assert "déjà en copie" in escalation.explanation
    assert escalation.understood and escalation.understood[0].startswith("« boulanger » → Boulanger")
