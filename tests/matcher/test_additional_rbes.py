"""A lycée's additional confirmed RBEs (issue 22) travel with each request routed to it: the routed event copies
them next to the recipient, with no assignment of their own, each address once per request, never an RBE that
already has an assignment (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from services.matcher import repository as repo
from services.matcher.service import CatalogReadModel, flows
from shared.contracts.catalog_snapshot import CatalogSnapshot, SnapshotRbe
from shared.contracts.events import AssignmentChanged
from tests.matcher.fakes import make_snapshot, submitted
from tests.matcher.test_flows import handle, outbox

MARIE, PAUL, LOU, ALEX = (f"{n}@ac-test.fr" for n in ("marie.dupont", "paul.martin", "lou.rossi", "alex.morel"))


def _model() -> CatalogReadModel:
    return CatalogReadModel(_snapshot())


def _snapshot() -> CatalogSnapshot:
    snapshot = make_snapshot()
    by_uai = {ly.uai: ly for ly in snapshot.lycees}
    venissieux, villeurbanne, vaulx, rabelais = (by_uai[u] for u in ("0690001A", "0690002B", "0690003C", "0690004D"))
    venissieux.rbe_id, venissieux.rbe_email, venissieux.is_generic_contact = MARIE, MARIE, False
    # Paul leads Villeurbanne and is also named at Vénissieux; Lou is named at Vénissieux and Vaulx.
    venissieux.additional_rbes = [SnapshotRbe(email=LOU, name="Lou Rossi"), SnapshotRbe(email="Paul.Martin@ac-test.fr")]
    villeurbanne.rbe_id, villeurbanne.rbe_email, villeurbanne.is_generic_contact = PAUL, PAUL, False
    vaulx.additional_rbes = [SnapshotRbe(email=LOU, name="Lou Rossi")]
    rabelais.additional_rbes = [SnapshotRbe(email=ALEX, name="Alex Morel")]
    by_uai["0690005E"].additional_rbes = list(rabelais.additional_rbes)  # its SEP: one establishment
    return snapshot


def test_additional_rbes_are_copied_once_without_an_assignment(engine, matcher_settings):
    model = _model()
    event = submitted("69007", ["pfmp"], ["boulanger"])
    assert handle(engine, flows.route_submitted, event, model, matcher_settings).recipients == 3
    (routed,) = outbox(engine, "request.routed")
    assert [(r.rbe_email, r.role) for r in routed.recipients] == [
        (MARIE, "lead"), (PAUL, "copy"), ("ce.0690003c@ac-test.fr", "copy")]
    lead, villeurbanne, vaulx = routed.recipients
    (lou,) = lead.additional_rbes  # Paul has his own assignment: not copied a second time
    assert (lou.email, lou.name) == (LOU, "Lou Rossi")
    assert lou.lycees == ["Lycée des Boulangers de Vénissieux", "Lycée ancien CAP de Vaulx"]  # one copy for both
    assert villeurbanne.additional_rbes == [] and vaulx.additional_rbes == []
    with Session(engine) as s:
        rows = repo.assignments_of(s, str(event.request_id))
    assert sorted(a.rbe_email for a in rows) == sorted([MARIE, PAUL, "ce.0690003c@ac-test.fr"])  # none for Lou

    # The lead declines: the next untried lycée leads, with its own additional RBE copied.
    changed = AssignmentChanged(correlation_id="t", request_id=event.request_id,
                                assignment_id=lead.assignment_id, rbe_email=MARIE, role="lead", status="declined")
    assert handle(engine, flows.escalate, changed, model, matcher_settings).outcome == "escalated"
    escalation = outbox(engine, "request.routed")[-1]
    (newcomer,) = escalation.recipients
    assert [a.email for a in newcomer.additional_rbes] == [ALEX]


def test_an_older_snapshot_without_additional_rbes_still_loads():
    data = json.loads(make_snapshot().model_dump_json())
    for ly in data["lycees"]:
        del ly["additional_rbes"]
    model = CatalogReadModel(CatalogSnapshot.model_validate(data))
    assert model.lycees["0690001A"].additional_rbes == ()


def test_a_reroute_carries_the_other_rbes_of_the_new_lycees(engine, matcher_settings):
    """The company corrects its job: the request goes to other lycées, and their other confirmed RBEs
    follow it into the thread, as on a first routing."""
    snapshot = _snapshot()
    sam = "sam.leroy@ac-test.fr"
    next(ly for ly in snapshot.lycees if ly.uai == "0690006F").additional_rbes = [SnapshotRbe(email=sam, name="Sam Leroy")]
    model = CatalogReadModel(snapshot)
    first = submitted("69007", ["pfmp"], ["boulanger"], submitted_at=datetime.now(UTC) - timedelta(days=2))
    handle(engine, flows.route_submitted, first, model, matcher_settings)
    again = submitted("69007", ["pfmp"], ["électricien du bâtiment"])
    assert handle(engine, flows.route_submitted, again, model, matcher_settings).outcome == "followup"
    (followup,) = outbox(engine, "request.followup")
    assert followup.rerouted
    copied = {(a.email, tuple(a.lycees)) for r in followup.recipients for a in r.additional_rbes}
    assert [email for email, _ in copied] == [sam]
    carrier = next(r for r in followup.recipients if r.additional_rbes)
    assert "0690006F" in carrier.uais
    with Session(engine) as s:  # still no assignment for a copied RBE
        assert sam not in {a.rbe_email for a in repo.assignments_of(s, str(first.request_id))}
