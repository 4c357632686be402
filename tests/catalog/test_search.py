"""Search on the real data: jobs, places, SEP grouping, overseas separation."""

from __future__ import annotations

import pytest

from services.catalog.service.queries import search_lycees
from shared.reference.geo import load_communes

pytestmark = pytest.mark.timeout(120)


def _search(index, **kw):
    return search_lycees(index, load_communes(), per_page=100, **kw)


def test_boulanger_near_lyon_nearest_first(search_index):
    page = _search(search_index, job="boulanger", place="69007", radius_km=100)
    assert page.place.insee == "69387" and page.total >= 3
    top = [r for r in page.results if r.relevance == page.results[0].relevance]
    assert all("50022137" in {f.cfd for f in r.formations} or any("oulanger" in f.label for f in r.formations) for r in top)
    with_cap = [r for r in page.results if "50022137" in {f.cfd for f in r.formations}]
    assert len(with_cap) >= 3
    assert page.results[0].formations[0].cfd in {"50022137", "40022105", "45022108"}  # best match shown first
    distances = [r.distance_km for r in top]
    assert distances == sorted(distances) and all(d <= 100 for d in distances)
    assert with_cap[0].name == "Lycée polyvalent François Rabelais" and with_cap[0].distance_km < 15


def test_electricien_near_rennes_finds_melec(search_index):
    page = _search(search_index, job="électricien", place="35000")
    melec = [r for r in page.results if {"40025520", "40025510"} & {f.cfd for f in r.formations}]
    assert len(melec) >= 2
    assert all(r.academie == "Rennes" for r in page.results)
    # Accent- and case-insensitive.
    same = _search(search_index, job="ELECTRICIEN", place="35000")
    assert [r.uai for r in same.results] == [r.uai for r in page.results]


def test_sep_carries_parent_formations_without_duplicate(search_index):
    page = _search(search_index, job="boulanger", place="69130", radius_km=30)
    uais = [u for r in page.results for u in r.uais]
    assert len(uais) == len(set(uais))
    rabelais = [r for r in page.results if "0692516K" in r.uais or "0693504J" in r.uais]
    assert len(rabelais) == 1 and set(rabelais[0].uais) == {"0693504J", "0692516K"}
    # Searched by its own name, the SEP is not listed beside its mother lycée either.
    by_name = _search(search_index, text="Rabelais", place="69570", radius_km=5)
    assert sum(1 for r in by_name.results if {"0692516K", "0693504J"} & set(r.uais)) == 1


def test_overseas_never_in_mainland_search(search_index):
    anywhere = _search(search_index, job="boulanger")
    assert any(r.departement == "974" for r in search_index.model.lycees.values() if r.uai in
               {u for res in anywhere.results for u in res.uais}) or anywhere.total > 100
    mainland = _search(search_index, job="boulanger", place="75001", radius_km=500)
    assert mainland.total > 0
    assert all(search_index.model.lycees[r.uai].territory == "metropole" for r in mainland.results)
    reunion = _search(search_index, job="boulanger", place="97400", radius_km=500)
    assert reunion.total > 0 and all(r.departement == "974" for r in reunion.results)


def test_job_autocomplete_returns_rome_codes(search_index):
    matches = search_index.suggest_jobs("boulang", 10)
    assert matches and matches[0].rome == "D1102"
    assert {m.source for m in search_index.suggest_jobs("electricien", 30)} >= {"appellation", "rome"}
    assert search_index.suggest_jobs("   ") == []


def test_track_need_and_naf_filters(search_index):
    appr = _search(search_index, job="boulanger", place="69007", radius_km=50, track="apprentissage")
    for r in appr.results:
        assert any("apprentissage" in f.tracks for f in r.formations)
    naf = _search(search_index, naf="10.71C", place="69007", radius_km=30)
    assert naf.total > 0
    assert _search(search_index, job="boulanger", place="69007", need="pfmp").total > 0
