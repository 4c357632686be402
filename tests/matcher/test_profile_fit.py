"""Routing uses the RBE's words (issue 22), on the real catalog snapshot: a lycée whose PFMP periods meet
the company's dates is preferred, and the explanation says so."""

from __future__ import annotations

from datetime import timedelta

from services.matcher.service import CatalogReadModel
from services.matcher.service.flows import build_query
from services.matcher.service.routing import decide
from shared.contracts.catalog_snapshot import SnapshotEvent, SnapshotPfmpPeriod
from tests.matcher.fakes import TODAY, submitted


def _route(model: CatalogReadModel, period: str | None, k: int = 3):
    event = submitted("69007", ["pfmp"], ["boulanger"]).model_copy(update={"period": period})
    return decide(model, build_query(event), k=k, steps=[30, 60, 100, 150], loads={}, today=TODAY)


def test_routing_prefers_the_lycee_whose_pfmp_meets_the_dates_and_says_so(real_snapshot):
    before = _route(CatalogReadModel(real_snapshot), "mars")
    lead = before.candidates[0]
    # The runner-up within reach of the PFMP term (15 points), not the same establishment.
    runner = next(c for c in before.candidates[1:] if c.family != lead.family and lead.score - c.score < 15
                  and c.blocked is None)
    by_uai = {ly.uai: ly for ly in real_snapshot.lycees}
    by_uai[runner.uai].pfmp_periods = [SnapshotPfmpPeriod(classe="cap1", dates="du 2 au 27 mars", ranges="03-02/03-27")]
    by_uai[lead.uai].pfmp_periods = [SnapshotPfmpPeriod(classe="1re", dates="mai", ranges="05-01/05-31")]
    model = CatalogReadModel(real_snapshot)

    after = _route(model, "mars 2027")
    chosen = after.recipients[0]
    assert chosen.uais == [runner.uai]
    assert ("période de PFMP compatible avec vos dates : vos dates (mars) tombent pendant la PFMP des CAP 1re année"
            in chosen.reasons)
    assert "période de PFMP compatible avec vos dates" in after.explanation
    passed_over = next(c for c in after.candidates if c.uai == lead.uai)
    assert "vos dates (mars) ne tombent pendant aucune PFMP déclarée par le lycée" in passed_over.reasons

    # Dates outside every PFMP, or none given: the periods weigh nothing and the first lead is back.
    assert _route(model, "juillet").recipients[0].uais == [lead.uai]
    assert _route(model, None).recipients[0].uais == [lead.uai]


def test_an_upcoming_event_and_the_capacity_left_are_in_the_reasons(real_snapshot):
    lead = _route(CatalogReadModel(real_snapshot), None).candidates[0]
    ly = next(ly for ly in real_snapshot.lycees if ly.uai == lead.uai)
    ly.events = [SnapshotEvent(kind="job_dating", title="Job dating boulangerie", starts_on=TODAY + timedelta(days=10))]
    ly.monthly_capacity = 8
    reasons = _route(CatalogReadModel(real_snapshot), None).recipients[0].reasons
    assert any(r.startswith("événement ouvert aux entreprises : job dating « Job dating boulangerie »") for r in reasons)
    assert "capacité déclarée par le lycée : 0 demande(s) sur 8 ce mois-ci" in reasons
