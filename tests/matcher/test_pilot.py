"""Outside the pilot académies (issue 20): the matcher routes to no RBE, even where lycées fit, but to the
académie's contact (or the national team), with an explanation, a review item and the notice carried to the
notifier; a repeat is never re-routed to RBEs. Real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

from sqlmodel import Session, select

from services.matcher import repository as repo
from services.matcher.models import ReviewItem, RoutingDecision
from services.matcher.service import flows
from shared.contracts.events import event_from_payload
from shared.platform.db import unit_of_work
from shared.platform.outbox import OutboxEvent
from tests.matcher.fakes import submitted

NOTICE = "Le service s'ouvre d'abord dans l'académie de Créteil ; votre demande sera transmise à …"


def _routed(engine) -> list:
    with Session(engine) as s:
        rows = s.exec(select(OutboxEvent).order_by(OutboxEvent.id)).all()
    return [e for e in (event_from_payload(json.loads(r.payload)) for r in rows)]


def _handle(engine, event, model, settings):
    with unit_of_work(engine) as session:
        return flows.route_submitted(session, event, model, settings)


def test_outside_the_pilot_goes_to_the_academie_contact_never_to_an_rbe(engine, fake_model, matcher_settings):
    event = submitted(
        "69007", ["pfmp"], ["boulanger"], in_pilot=False, pilot_notice=NOTICE
    )  # lycées fit here
    outcome = _handle(engine, event, fake_model, matcher_settings)
    assert (outcome.outcome, outcome.in_pilot, outcome.recipients, outcome.academie) == (
        "outside_pilot",
        False,
        0,
        "Lyon",
    )
    with Session(engine) as s:
        assert repo.assignments_of(s, str(event.request_id)) == []
        decision = s.exec(select(RoutingDecision)).one()
        review = s.get(ReviewItem, str(event.request_id))
    assert decision.unroutable and decision.fallback_email == "entreprises@ac-lyon.test"
    assert decision.explanation.startswith("L'académie Lyon ne fait pas partie des académies pilotes")
    assert NOTICE in decision.explanation
    assert (review.reason, review.academie, review.fallback_email) == (
        "outside_pilot",
        "Lyon",
        "entreprises@ac-lyon.test",
    )
    (routed,) = [e for e in _routed(engine) if e.event_type == "request.routed"]
    assert (
        routed.recipients == [] and routed.unroutable and routed.fallback_email == "entreprises@ac-lyon.test"
    )
    assert routed.in_pilot is False and routed.pilot_notice == NOTICE


def test_an_academie_without_contact_goes_to_the_national_team(engine, fake_model, matcher_settings):
    event = submitted("38000", ["pfmp"], ["boulanger"], in_pilot=False, pilot_notice=NOTICE)
    _handle(engine, event, fake_model, matcher_settings)
    (routed,) = [e for e in _routed(engine) if e.event_type == "request.routed"]
    assert routed.fallback_email == matcher_settings.fallback_email and routed.academie == "Grenoble"
    assert "l'équipe nationale de MonLycéePro" in routed.explanation


def test_inside_the_pilot_routing_is_unchanged(engine, fake_model, matcher_settings):
    outcome = _handle(engine, submitted("69007", ["pfmp"], ["boulanger"]), fake_model, matcher_settings)
    assert outcome.outcome == "routed" and outcome.recipients == 3 and outcome.in_pilot


def test_a_repeat_outside_the_pilot_is_never_rerouted_to_rbes(engine, fake_model, matcher_settings):
    first = submitted("69007", ["pfmp"], ["boulanger"], in_pilot=False, pilot_notice=NOTICE)
    _handle(engine, first, fake_model, matcher_settings)
    again = submitted(
        "69003", ["pfmp"], ["cuisinier"], in_pilot=False, pilot_notice=NOTICE
    )  # new job and place
    outcome = _handle(engine, again, fake_model, matcher_settings)
    assert outcome.outcome == "followup" and not outcome.in_pilot
    with Session(engine) as s:
        assert repo.assignments_of(s, str(first.request_id)) == []
    (followup,) = [e for e in _routed(engine) if e.event_type == "request.followup"]
    assert not followup.rerouted and followup.recipients == []
