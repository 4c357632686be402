"""Invariants of every routing decision on the real catalog, and of the preview API on any input."""

from __future__ import annotations

import csv

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from services.matcher.service import decide
from services.matcher.service.flows import build_query
from services.matcher.service.routing import RELEVANCE_FLOOR
from shared.platform.settings import PROJECT_ROOT
from tests.matcher.fakes import TODAY, submitted

with open(PROJECT_ROOT / "data" / "communes.csv", encoding="utf-8") as fh:
    POSTCODES = sorted({row["code_postal"] for row in csv.DictReader(fh) if row["latitude"]})[::40]
JOBS = ["boulanger", "électricien", "cuisinier", "coiffeur", "maçon", "plombier", "vendeur", "fleuriste",
        "aide-soignant", "mécanicien", "comptable", "D1102", "F1602", "astronaute", "menuiserie"]
NEEDS = ["pfmp", "apprentissage", "recrutement", "visite", "intervention", "jury"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(postal=st.sampled_from(POSTCODES), jobs=st.lists(st.sampled_from(JOBS), max_size=3),
       needs=st.lists(st.sampled_from(NEEDS), min_size=1, max_size=2, unique=True),
       naf=st.sampled_from([None, "10.71C", "43.21A", "56.10A"]), k=st.integers(1, 5))
# Found by CI: a lycée at 150.8 km (great circle) inside the flat-earth 150 km search radius.
@example(postal="50360", jobs=["fleuriste"], needs=["pfmp"], naf=None, k=4)
def test_every_decision_respects_k_dedup_one_lead_and_territory(real_model, postal, jobs, needs, naf, k):
    event = submitted(postal, needs, jobs, naf=naf)
    query = build_query(event)
    decision = decide(real_model, query, k=k, steps=[30, 60, 100, 150], loads={}, today=TODAY)
    chosen = [u for r in decision.recipients for u in r.uais]
    assert len(chosen) <= k and len(set(chosen)) == len(chosen)
    families = [real_model.lycees[u].family for u in chosen]
    assert len(families) == len(set(families))  # a SEP and its parent never both
    assert len({r.rbe_id for r in decision.recipients}) == len(decision.recipients)  # one assignment per RBE
    assert [r.role for r in decision.recipients].count("lead") == (1 if chosen else 0)
    assert all(real_model.lycees[c.uai].territory == query.territory for c in decision.candidates)
    assert all(c.distance_km <= decision.radius_km + 0.5 for c in decision.candidates)
    assert decision.unroutable == (not chosen) and decision.explanation
    if chosen:
        by_uai = {c.uai: c for c in decision.candidates}
        lead_score = by_uai[decision.recipients[0].uais[0]].score
        askable = [c for c in decision.candidates if c.blocked is None]
        # The lead is the best-scored lycée; those under the relevance floor only complete the K places
        # (docs/job-vocabulary.md: « weak links fill empty places », « near beside specific »).
        strong = [c for c in askable if c.relevance >= RELEVANCE_FLOOR]
        assert lead_score == max(c.score for c in strong or askable)
        assert all(c.reasons for c in decision.candidates)


BODY_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10**6) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=8,
)
FIELDS = ["needs", "jobs", "naf", "siret", "location", "radius_km", "company_name", "contact", "message", "places"]


def test_preview_never_answers_500_on_any_body(tmp_path, redis_url):
    from fastapi.testclient import TestClient

    from services.matcher.app import create_app
    from tests.matcher.catalog_stub import CatalogStub
    from tests.matcher.fakes import make_snapshot
    from tests.matcher.test_api import settings_for
    from tests.support.eventually import eventually

    good = {"needs": ["pfmp"], "jobs": ["boulanger"], "location": {"postal_code": "69007"},
            "company_name": "X", "contact": {"name": "Y", "email": "y@x.test"}}
    with CatalogStub(make_snapshot()) as stub:
        app = create_app(settings_for(tmp_path, redis_url, stub))
        with TestClient(app, raise_server_exceptions=False) as client:
            eventually(lambda: app.state.holder.model is not None, timeout=15)

            @settings(max_examples=120, deadline=None)
            @given(overrides=st.dictionaries(st.sampled_from(FIELDS), BODY_VALUES, max_size=3),
                   drop=st.lists(st.sampled_from(list(good)), max_size=2))
            def check(overrides, drop):
                body = {k: v for k, v in {**good, **overrides}.items() if k not in drop}
                response = client.post("/api/v1/routing/preview", json=body)
                assert response.status_code in (200, 422), (body, response.text)
                if response.status_code == 422:
                    data = response.json()
                    assert data["detail"] == "La requête contient des erreurs : corrigez les champs indiqués."
                    assert data["errors"] and all(e["field"] and e["message"] for e in data["errors"])

            check()
