"""A repeat request carries what it changed, and a new job or place routes the original afresh
(real database: SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from services.matcher import repository as repo
from services.matcher.models import RoutedRequest, RoutingDecision
from services.matcher.service import flows
from shared.contracts.events import RequestSubmitted
from tests.matcher.fakes import submitted
from tests.matcher.test_flows import handle, outbox

ELECTRICITY_RBES = {"ce.0690006f@ac-test.fr", "ce.0690008l@ac-test.fr"}


def _first(engine, fake_model, matcher_settings, **extra):
    first = submitted("69007", ["pfmp"], ["boulanger"], submitted_at=datetime.now(UTC) - timedelta(days=2), **extra)
    handle(engine, flows.route_submitted, first, fake_model, matcher_settings)
    return first


def test_a_repeat_with_a_new_period_and_message_carries_them_without_rerouting(engine, fake_model, matcher_settings):
    first = _first(engine, fake_model, matcher_settings, period="mars 2027", places=1)
    again = submitted("69007", ["pfmp", "visite"], ["Boulanger"], period="avril 2027", places=2)
    assert handle(engine, flows.route_submitted, again, fake_model, matcher_settings).outcome == "followup"
    (followup,) = outbox(engine, "request.followup")
    changes = {c.field: (c.before, c.after) for c in followup.changes}
    assert changes == {"needs": ("pfmp", "pfmp,visite"), "period": ("mars 2027", "avril 2027"), "places": ("1", "2")}
    assert not followup.rerouted and followup.recipients == []
    with Session(engine) as s:
        assert len(s.exec(select(RoutingDecision)).all()) == 1  # nothing routed again
        stored = RequestSubmitted.model_validate_json(s.get(RoutedRequest, str(first.request_id)).payload)
    assert stored.period == "avril 2027" and stored.needs == ["pfmp", "visite"]  # escalation uses the latest


def test_a_repeat_with_another_job_routes_the_original_afresh(engine, fake_model, matcher_settings):
    first = _first(engine, fake_model, matcher_settings)
    again = submitted("69007", ["pfmp"], ["électricien du bâtiment"])
    outcome = handle(engine, flows.route_submitted, again, fake_model, matcher_settings)
    assert outcome.outcome == "followup" and outcome.recipients == 2
    (followup,) = outbox(engine, "request.followup")
    assert [(c.field, c.before, c.after) for c in followup.changes] == [
        ("jobs", "boulanger", "électricien du bâtiment")]
    assert followup.rerouted and followup.original_request_id == first.request_id
    assert {r.rbe_email for r in followup.recipients} == ELECTRICITY_RBES
    assert [r.role for r in followup.recipients] == ["lead", "copy"]
    with Session(engine) as s:
        rows = repo.assignments_of(s, str(first.request_id))
        kinds = sorted(d.kind for d in s.exec(select(RoutingDecision)).all())
    withdrawn = {a.rbe_email for a in rows if a.status == "withdrawn"}
    assert withdrawn and not withdrawn & ELECTRICITY_RBES and all(a.role == "copy" for a in rows if a.status == "withdrawn")
    assert [a for a in rows if a.role == "lead"] == [a for a in rows if a.rbe_email in ELECTRICITY_RBES and a.role == "lead"]
    assert kinds == ["initial", "reroute"]

    # Asking for bread again brings the bakers back (their assignments are reused: one per RBE).
    third = submitted("69007", ["pfmp"], ["boulanger"])
    handle(engine, flows.route_submitted, third, fake_model, matcher_settings)
    last = outbox(engine, "request.followup")[-1]
    assert last.rerouted and not {r.rbe_email for r in last.recipients} & ELECTRICITY_RBES
    with Session(engine) as s:
        rows = repo.assignments_of(s, str(first.request_id))
    assert len(rows) == len({a.rbe_id for a in rows})
    assert {a.rbe_email for a in rows if a.status == "withdrawn"} == ELECTRICITY_RBES


def test_a_new_place_that_keeps_the_same_lycees_is_not_rerouted(engine, fake_model, matcher_settings):
    _first(engine, fake_model, matcher_settings)
    again = submitted("69003", ["pfmp"], ["boulanger"])
    handle(engine, flows.route_submitted, again, fake_model, matcher_settings)
    (followup,) = outbox(engine, "request.followup")
    assert [c.field for c in followup.changes] == ["place"]
    assert not followup.rerouted


def test_a_repeat_that_nobody_could_take_keeps_the_current_lycees(engine, fake_model, matcher_settings):
    _first(engine, fake_model, matcher_settings)
    handle(engine, flows.route_submitted, submitted("69007", ["pfmp"], ["astronaute"]), fake_model, matcher_settings)
    (followup,) = outbox(engine, "request.followup")
    assert [c.field for c in followup.changes] == ["jobs"] and not followup.rerouted
