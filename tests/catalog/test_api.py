"""JSON API: French 422 on bad input (never a 500), autocomplete, profile, search through HTTP."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.timeout(120)

BAD_QUERIES = [
    "/api/v1/lycees?rayon_km=abc",
    "/api/v1/lycees?rayon_km=-5&lieu=69007",
    "/api/v1/lycees?rayon_km=100000",
    "/api/v1/lycees?par_page=0",
    "/api/v1/lycees?page=abc",
    "/api/v1/lycees?voie=nuit",
    "/api/v1/lycees?code_insee=1",
    "/api/v1/metiers",
    "/api/v1/metiers?q=",
    "/api/v1/metiers?q=boulanger&limite=1000",
    "/api/v1/communes?q=" + "x" * 200,
    "/api/v1/lycees/abc",
]
BAD_DOMAIN = [
    ("/api/v1/lycees?lieu=00000", "lieu", "Code postal inconnu"),
    ("/api/v1/lycees?lieu=zzzzqq", "lieu", "Commune introuvable"),
    ("/api/v1/lycees?naf=ZZ", "naf", "Code NAF invalide"),
    ("/api/v1/lycees?besoin=licorne", "besoin", "Type de besoin inconnu"),
    ("/api/v1/lycees?code_insee=99999", "code_insee", "Code commune INSEE inconnu"),
    ("/api/v1/lycees?code_insee=98411", "code_insee", "pas de coordonnées connues"),
]
INVALID = "La requête contient des erreurs : corrigez les champs indiqués."


@pytest.mark.parametrize("url", BAD_QUERIES)
def test_bad_parameters_get_a_french_422(readonly_client, url):
    response = readonly_client.get(url)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["detail"] == INVALID
    assert body["errors"] and all(err["field"] and err["message"] and "field" not in err["message"].lower()
                                  for err in body["errors"])


@pytest.mark.parametrize(("url", "field", "expected"), BAD_DOMAIN)
def test_bad_values_are_explained_in_french(readonly_client, url, field, expected):
    response = readonly_client.get(url)
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == INVALID
    [error] = body["errors"]
    assert error["field"] == field and expected in error["message"]


def test_unknown_lycee_is_a_french_404(readonly_client):
    response = readonly_client.get("/api/v1/lycees/0000000A")
    assert response.status_code == 404 and "Aucun lycée" in response.json()["detail"]


def test_job_and_commune_autocomplete(readonly_client):
    jobs = readonly_client.get("/api/v1/metiers", params={"q": "Électricien"}).json()
    assert jobs and all(j["rome"][0].isalpha() and len(j["rome"]) == 5 for j in jobs)
    assert any(j["rome"] == "F1602" for j in jobs)
    onisep = readonly_client.get("/api/v1/metiers", params={"q": "conducteur de machines agricoles", "limite": 20}).json()
    assert any(j["source"] == "onisep" and j["rome"] == "A1101" for j in onisep)
    communes = readonly_client.get("/api/v1/communes", params={"q": "69007"}).json()
    assert any(c["insee"] == "69387" for c in communes)


def test_search_and_profile_over_http(readonly_client):
    page = readonly_client.get("/api/v1/lycees", params={"metier": "D1102", "lieu": "69007", "rayon_km": 50}).json()
    assert page["total"] >= 2 and page["results"][0]["distance_km"] is not None
    profile = readonly_client.get("/api/v1/lycees/0692516K").json()  # the SEP of lycée Rabelais
    assert profile["parent_uai"] == "0693504J"
    assert any(f["cfd"] == "50022137" and f["level_text"] == "niveau 3, 2 ans" for f in profile["formations"])
    assert profile["contact"]["is_generic"] is True
    assert "uai=0692516K" in profile["contact_url"] and "metiers=" in profile["contact_url"]
    assert profile["insertion_year"] is None or profile["insertion_year"].startswith("20")


def test_openapi_documents_the_api(readonly_client):
    spec = readonly_client.get("/openapi.json").json()
    assert {"/api/v1/snapshot", "/api/v1/metiers", "/api/v1/lycees", "/api/v1/lycees/{uai}",
            "/api/v1/admin/rbe/import"} <= set(spec["paths"])


def test_business_metrics_are_exposed(readonly_client):
    readonly_client.get("/api/v1/lycees", params={"metier": "boulanger", "lieu": "69007"})
    readonly_client.get("/api/v1/lycees", params={"lieu": "00000"})
    text = readonly_client.get("/metrics").text
    assert 'mlp_catalog_searches_total{criterion="metier",outcome="found"}' in text
    assert 'mlp_catalog_searches_total{criterion="lieu",outcome="invalid"}' in text
    assert "mlp_catalog_search_seconds_bucket" in text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.dictionaries(
    st.sampled_from(["metier", "q", "naf", "lieu", "code_insee", "rayon_km", "academie", "besoin", "voie", "page"]),
    st.text(max_size=12), max_size=4))
def test_arbitrary_query_strings_never_give_a_server_error(readonly_client, params):
    response = readonly_client.get("/api/v1/lycees", params=params)
    assert response.status_code in (200, 422), response.text
    page = readonly_client.get("/", params={k: v for k, v in params.items() if k in {"metier", "lieu", "page"}})
    assert page.status_code == 200


def test_understanding_a_job_lists_the_diplomas_lycees_teach_first_with_how_many(readonly_client):
    understood = readonly_client.get("/api/v1/metiers/comprendre", params={"q": "boulangère", "limite": 50}).json()
    assert understood["status"] == "compris" and understood["jobs"][0]["rome"] == "D1102"
    formations = understood["formations"]
    counts = [f["lycees"] for f in formations]
    assert counts[0] > 10  # the CAP boulanger, taught across the country
    assert any(f["label"] == "CAP Boulanger" and f["lycees"] > 10 for f in formations)
    # Every diploma a company can find a lycée for comes before those no lycée of the catalog teaches.
    taught_flags = [n > 0 for n in counts]
    assert taught_flags == sorted(taught_flags, reverse=True)
    weights = [f["weight"] for f in formations if f["lycees"] > 0]
    assert weights == sorted(weights, reverse=True)
