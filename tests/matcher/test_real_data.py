"""Routing on the real open data (catalog loaded by the catalog's own loader and snapshot builder)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from services.matcher import repository as repo
from services.matcher.migrations import SCHEMA as MATCHER_SCHEMA
from services.matcher.models import RoutingDecision
from services.matcher.service import CatalogReadModel, decide
from services.matcher.service.flows import build_query, route_submitted
from services.matcher.service.routing import RELEVANCE_FLOOR
from shared.platform.db import make_engine, unit_of_work
from shared.platform.migrations import upgrade
from shared.platform.outbox import OutboxEvent
from tests.matcher.fakes import TODAY, submitted

CAP_BOULANGER = "50022137"
ELEC_BAC_PRO = "40025510"  # Bac pro Métiers de l'électricité et de ses environnements connectés


def route(model, event, k=3):
    query = build_query(event)
    return decide(model, query, k=k, steps=[30, 60, 100, 150], loads={}, today=TODAY)


def teaches(model, uai, cfd):
    return cfd in model.lycees[uai].offers


def test_lyon_bakery_reaches_cap_boulanger_near_lyon_nearest_relevant_first(real_model):
    decision = route(real_model, submitted("69007", ["pfmp"], ["boulanger"]))
    assert not decision.unroutable and decision.romes == ["D1102"]
    chosen = [u for r in decision.recipients for u in r.uais]
    assert any(teaches(real_model, u, CAP_BOULANGER) for u in chosen)
    # Every recipient lists a baking diploma itself (a "2nde commune" only where none is within reach).
    for r in decision.recipients:
        assert any(cfd not in real_model.lycees[u].inferred for u in r.uais for cfd, _ in r.formations
                   if cfd in real_model.lycees[u].offers)
    lead = decision.recipients[0]
    assert lead.distance_km <= 30
    assert lead.role == "lead" and decision.candidates[0].uai == lead.uais[0]  # lead = best ranked
    # nearest relevant first: among the fully relevant candidates chosen, the lead is the nearest
    full = [c for c in decision.candidates if c.chosen and c.relevance == decision.candidates[0].relevance]
    assert lead.distance_km == min(c.distance_km for c in full)
    assert any("Boulanger" in label for _, label in lead.formations)


def test_what_the_decision_says_it_understood_names_diplomas_lycees_teach(real_model):
    # « vendeur »: Certif Info and ONISEP also link a titre professionnel and a CS boulangerie spécialisée that
    # no lycée teaches; the explanation names the diplomas routing read.
    decision = route(real_model, submitted("69007", ["pfmp"], ["vendeur"]))
    taught = real_model.resolver.links.taught_cfds
    named = [f["cfd"] for u in decision.understood for f in u["formations"]]
    assert named and all(cfd in taught for cfd in named)
    assert "Boulangerie" not in decision.paths[0] and "Boulangerie" not in decision.explanation


def test_rennes_electrician_reaches_the_electrical_bac_pro(real_model):
    decision = route(real_model, submitted("35000", ["pfmp"], ["électricien"]))
    assert decision.recipients
    lead = decision.recipients[0]
    assert any(teaches(real_model, u, ELEC_BAC_PRO) for u in lead.uais)
    assert ELEC_BAC_PRO in {cfd for cfd, _ in lead.formations}
    for r in decision.recipients:  # every one trains electricians: CAP, bac pro or BTS
        assert any("lectr" in label for _, label in r.formations), r.formations
        assert r.distance_km < 30


@pytest.mark.parametrize("jobs", [["cuisinier"], ["boulanger"], ["électricien"], ["coiffeur"], ["maçon"]])
def test_saint_denis_de_la_reunion_stays_in_la_reunion(real_model, jobs):
    decision = route(real_model, submitted("97400", ["pfmp"], jobs))
    for c in decision.candidates:
        assert real_model.lycees[c.uai].territory == "974"
    if not decision.unroutable:
        assert all(u.startswith("974") for r in decision.recipients for u in r.uais)


def test_sep_and_parent_never_two_assignments_on_real_data(real_model):
    families = {}
    for ly in real_model.lycees.values():
        families.setdefault(ly.family, []).append(ly.uai)
    assert families["0693504J"] == ["0692516K", "0693504J"] or set(families["0693504J"]) == {"0692516K", "0693504J"}
    requests = [("69570", ["boulanger"]), ("69007", ["cuisinier"]), ("75011", ["électricien"]),
                ("13001", ["vendeur"]), ("33000", ["maçon"]), ("59000", ["coiffeur"]), ("31000", ["plombier"])]
    for postal, jobs in requests:
        decision = route(real_model, submitted(postal, ["pfmp"], jobs), k=6)
        chosen = [u for r in decision.recipients for u in r.uais]
        fams = [real_model.lycees[u].family for u in chosen]
        assert len(fams) == len(set(fams)), (postal, jobs)
        assert len({r.rbe_id for r in decision.recipients}) == len(decision.recipients)
    decision = route(real_model, submitted("69570", ["pfmp"], ["boulanger"]), k=6)
    chosen = {u for r in decision.recipients for u in r.uais}
    assert len(chosen & {"0692516K", "0693504J"}) == 1


def test_rbe_covering_two_selected_lycees_gets_one_assignment(real_snapshot):
    first = route(CatalogReadModel(real_snapshot), submitted("35000", ["pfmp"], ["électricien"]))
    a, b = first.recipients[0].uais[0], first.recipients[1].uais[0]
    for ly in real_snapshot.lycees:
        if ly.uai in {a, b}:
            ly.rbe_id = ly.rbe_email = "rbe.rennes@ac-rennes.fr"
            ly.is_generic_contact = False
    decision = route(CatalogReadModel(real_snapshot), submitted("35000", ["pfmp"], ["électricien"]))
    shared = [r for r in decision.recipients if r.rbe_email == "rbe.rennes@ac-rennes.fr"]
    assert len(shared) == 1 and set(shared[0].uais) == {a, b}
    assert shared[0].role == "lead"


def test_same_request_twice_in_a_week_one_routing_and_nothing_in_range_goes_to_fallback(
        real_model, matcher_settings, tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/m.db")
    upgrade(MATCHER_SCHEMA, engine)
    first = submitted("69007", ["pfmp"], ["boulanger"], submitted_at=datetime.now(UTC) - timedelta(days=5))
    again = submitted("69007", ["pfmp"], ["boulanger"])
    corsica = submitted("20000", ["pfmp"], ["boulanger"], siret="11111111100011")  # no CAP/Bac boulanger in Corse
    for event in (first, again, corsica):
        with unit_of_work(engine) as s:
            route_submitted(s, event, real_model, matcher_settings)
    with Session(engine) as s:
        decisions = s.exec(select(RoutingDecision)).all()
        review = repo.list_review(s)
        types = [json.loads(r.payload)["event_type"] for r in s.exec(select(OutboxEvent)).all()]
    assert sorted(d.request_id for d in decisions) == sorted([str(first.request_id), str(corsica.request_id)])
    assert types.count("request.followup") == 1 and types.count("request.routed") == 2
    assert [i.request_id for i in review] == [str(corsica.request_id)]
    assert review[0].academie == "Corse" and review[0].fallback_email
    engine.dispose()


@pytest.mark.parametrize("text, rome", [
    ("boulanger", "D1102"), ("Boulangère", "D1102"), ("boulangerie", "D1102"), ("D1102", "D1102"),
    ("pâtissier", "D1104"), ("aide-soignant", "J1501"), ("commis de cuisine", "G1602"),
    ("mécanicien automobile", "I1604"), ("conducteur de bus", "N4103"),
    ("technicien de maintenance", "I1304"), ("carreleur", "F1608"),
])
def test_job_titles_resolve_through_the_real_vocabulary(real_model, text, rome):
    assert rome in real_model.resolver.understand(text).romes[:3]


def test_places_the_relevance_floor_leaves_empty_go_to_weaker_links_after_the_strong_ones(real_model):
    # Aide-soignant from Dijon: few lycées teach the state diploma (a strong link) within 150 km, while
    # the bac pro ASSP, which only Certif Info links to the job, is taught next door: it completes the K places.
    decision = route(real_model, submitted("21000", ["pfmp"], ["aide-soignant"]))
    chosen = [c for c in decision.candidates if c.chosen]
    assert len(chosen) == 3
    strong = [c for c in chosen if c.relevance >= RELEVANCE_FLOOR]
    weak = [c for c in chosen if c.relevance < RELEVANCE_FLOOR]
    assert strong and weak
    assert decision.recipients[0].uais[0] == strong[0].uai  # the lead is still a lycée above the floor
    for c in weak:
        assert any(reason.startswith("formation proche du métier demandé") for reason in c.reasons)
    assert any("Accompagnement soins" in label for c in weak for _, label in c.formations)
    assert min(c.distance_km for c in weak) < min(c.distance_km for c in strong)


def test_a_near_lycee_with_a_related_diploma_takes_a_place_when_every_chosen_one_is_far(real_model):
    # Charpentier bois from Chamonix: the CAP charpentier bois is taught 59 km away and farther; a lycée
    # 22 km away teaches the bac pro technicien constructeur bois (a weaker link): it takes the K-th place.
    decision = route(real_model, submitted("74400", ["pfmp"], ["charpentière bois"]))
    chosen = [c for c in decision.candidates if c.chosen]
    assert len(chosen) == 3
    near = [c for c in chosen if c.distance_km <= 30]
    assert len(near) == 1 and near[0] is chosen[-1]
    assert any(reason.startswith("lycée le plus proche formant à un métier voisin") for reason in near[0].reasons)
    assert decision.recipients[0].uais[0] == chosen[0].uai and chosen[0].relevance > near[0].relevance
    assert all(c.relevance >= RELEVANCE_FLOOR for c in chosen[:-1])


def test_a_second_commune_found_at_a_small_step_does_not_mark_a_decision_a_wider_step_made(real_model):
    # Opérateur de fabrication en industrie pharmaceutique from Orléans: within 30 km only a « 2nde commune »
    # is reached; at 100 km lycées teach related bac pro. The decision is not a « 2nde commune » one, and the
    # nearest lycée teaching the bac pro PIAC (the best-linked diploma, 104 km) takes the K-th place.
    decision = route(real_model, submitted("45000", ["pfmp"], ["opérateur de fabrication en industrie pharmaceutique"]))
    assert not decision.first_year_only
    chosen = [c for c in decision.candidates if c.chosen]
    assert len(chosen) == 3
    assert any(teaches(real_model, c.uai, "40022005") for c in chosen)
    assert not any("seconde commune" in reason for c in chosen for reason in c.reasons)
