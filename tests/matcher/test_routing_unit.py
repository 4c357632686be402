"""Routing decisions on a small hand-made snapshot (pure domain logic, no I/O)."""

from __future__ import annotations

from datetime import date

from services.matcher.service import CatalogReadModel, decide
from services.matcher.service.flows import build_query
from tests.matcher.fakes import CAP_BOULANGER, TODAY, lycee, make_snapshot, submitted

STEPS = [30, 60, 100, 150]


def route(model, event, k=3, loads=None, today=TODAY):
    query = build_query(event)
    assert query is not None
    return decide(model, query, k=k, steps=STEPS, loads=loads or {}, today=today)


def uais(decision):
    return [u for r in decision.recipients for u in r.uais]


def test_job_title_resolution_accepts_rome_codes_genders_and_free_text():
    resolver = CatalogReadModel(make_snapshot()).resolver
    assert resolver.understand("boulanger").romes == ["D1102"]
    assert resolver.understand("Boulangère").romes == ["D1102"]
    assert resolver.understand("d1102").romes == ["D1102"]
    assert resolver.understand("électricien du bâtiment").romes[0] == "F1602"
    assert resolver.understand("boulangerie").romes == ["D1102"]
    assert resolver.understand("astronaute").status == "inconnu"


def test_bakery_reaches_nearest_relevant_lycees_lead_first():
    model = CatalogReadModel(make_snapshot())
    decision = route(model, submitted("69007", ["pfmp"], ["boulanger"]))
    assert not decision.unroutable
    chosen = uais(decision)
    assert len(chosen) == 3
    # Vénissieux (CAP, 5.5 km), Villeurbanne (BP, 5.9 km), Vaulx (old CAP whose successor is the CAP, 8.3 km)
    assert chosen == ["0690001A", "0690002B", "0690003C"]
    assert decision.recipients[0].role == "lead"
    assert all(r.role == "copy" for r in decision.recipients[1:])
    distances = [r.distance_km for r in decision.recipients]
    assert distances == sorted(distances)
    assert "0690007K" not in chosen  # apprenticeship-only section: no PFMP interns
    assert any("forme aux métiers demandés" in reason for reason in decision.recipients[0].reasons)


def test_apprentice_request_uses_the_apprenticeship_track():
    model = CatalogReadModel(make_snapshot())
    decision = route(model, submitted("69007", ["apprentissage"], ["boulanger"]), k=1)
    assert uais(decision) == ["0690007K"]


def test_sep_and_parent_never_get_two_assignments():
    model = CatalogReadModel(make_snapshot())
    decision = route(model, submitted("69009", ["pfmp"], ["boulanger"]), k=6)  # Rabelais is nearest from 69009
    chosen = uais(decision)
    assert len({"0690004D", "0690005E"} & set(chosen)) == 1
    rejected = [c for c in decision.candidates if c.uai in {"0690004D", "0690005E"} and not c.chosen]
    assert rejected and "même établissement" in rejected[0].skipped


def test_rbe_covering_two_selected_lycees_gets_one_assignment():
    snapshot = make_snapshot()
    for ly in snapshot.lycees:
        if ly.uai in {"0690001A", "0690002B"}:
            ly.rbe_id, ly.rbe_email, ly.rbe_name = "rbe.est@ac-lyon.test", "rbe.est@ac-lyon.test", "Dominique Est"
    decision = route(CatalogReadModel(snapshot), submitted("69007", ["pfmp"], ["boulanger"]))
    assert len(decision.recipients) == 2
    lead = decision.recipients[0]
    assert lead.rbe_email == "rbe.est@ac-lyon.test" and lead.uais == ["0690001A", "0690002B"]
    assert len({r.rbe_id for r in decision.recipients}) == len(decision.recipients)


def test_capacity_and_absence_skip_a_lycee_and_a_deputy_replaces_an_absent_rbe():
    snapshot = make_snapshot()
    for ly in snapshot.lycees:
        if ly.uai == "0690002B":
            ly.monthly_capacity = 2
        if ly.uai == "0690001A":
            ly.absent_from, ly.absent_until = date(2026, 11, 1), date(2026, 12, 31)
        if ly.uai == "0690003C":
            ly.absent_from, ly.absent_until, ly.deputy_email = date(2026, 11, 1), None, "adjoint@ac-lyon.test"
    decision = route(CatalogReadModel(snapshot), submitted("69007", ["pfmp"], ["boulanger"]),
                     loads={"0690002B": 2})
    chosen = uais(decision)
    assert "0690002B" not in chosen and "0690001A" not in chosen
    by_uai = {c.uai: c for c in decision.candidates}
    assert by_uai["0690002B"].blocked.startswith("capacité mensuelle atteinte")
    assert by_uai["0690001A"].blocked == "référent absent, sans suppléant"
    deputy = next(r for r in decision.recipients if "0690003C" in r.uais)
    assert deputy.rbe_email == "adjoint@ac-lyon.test"


def test_overseas_request_stays_in_its_territory():
    model = CatalogReadModel(make_snapshot())
    decision = route(model, submitted("97400", ["pfmp"], ["boulanger"]))
    assert uais(decision) == ["9740002J"]
    assert all(model.lycees[c.uai].territory == "974" for c in decision.candidates)


def test_nothing_relevant_in_range_is_unroutable():
    model = CatalogReadModel(make_snapshot())
    decision = route(model, submitted("20000", ["pfmp"], ["boulanger"]))  # Ajaccio: never across the sea
    assert decision.unroutable and decision.recipients == []
    assert "Aucun lycée pertinent" in decision.explanation


def test_radius_widens_in_steps_until_k_lycees():
    extra = [lycee("0010001A", "Lycée lointain", 46.2, 5.2, [CAP_BOULANGER], dept="01")]  # ~57 km
    model = CatalogReadModel(make_snapshot(extra))
    decision = route(model, submitted("42100", ["pfmp"], ["boulanger"]), k=1)  # Saint-Étienne
    assert decision.radius_km == 30 and uais(decision) == ["0420001G"]
    decision = route(model, submitted("42100", ["pfmp"], ["boulanger"]), k=3)
    assert decision.radius_km == 60 and "0420001G" in uais(decision)


def test_sector_only_request_uses_the_sectors_typical_jobs():
    model = CatalogReadModel(make_snapshot())
    decision = route(model, submitted("69007", ["pfmp"], [], naf="43.21A"))
    assert decision.romes == ["F1602"]
    assert set(uais(decision)) == {"0690006F", "0690008L"}
    assert "secteur d'activité" in decision.explanation


def test_job_independent_need_reaches_lycees_welcoming_it():
    model = CatalogReadModel(make_snapshot())
    decision = route(model, submitted("69007", ["visite"], []), k=3)
    assert uais(decision) == ["0690008L"]
    assert any("visites" in r for r in decision.recipients[0].reasons)


def test_preferred_lycee_leads():
    model = CatalogReadModel(make_snapshot())
    decision = route(model, submitted("69007", ["pfmp"], ["boulanger"], preferred_uai="0690001A"))
    assert decision.recipients[0].uais[0] == "0690001A"


def test_lycee_without_any_contact_is_never_asked():
    snapshot = make_snapshot()
    for ly in snapshot.lycees:
        if ly.uai == "0690001A":
            ly.rbe_id = ly.rbe_email = ""
    decision = route(CatalogReadModel(snapshot), submitted("69007", ["pfmp"], ["boulanger"]))
    assert "0690001A" not in uais(decision)
    assert next(c for c in decision.candidates if c.uai == "0690001A").blocked == "aucun contact connu pour ce lycée"
