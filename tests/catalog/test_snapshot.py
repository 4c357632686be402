"""The snapshot contract read by the matcher, built from the real data."""

from __future__ import annotations

import shutil

import pytest
from fastapi.testclient import TestClient

from services.catalog.app import create_app
from services.catalog.service.snapshot import build_snapshot
from shared.contracts.catalog_snapshot import CatalogSnapshot, etag_of
from shared.platform.db import make_engine
from tests.catalog.support import catalog_settings

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def snapshot(catalog_template) -> CatalogSnapshot:
    engine = make_engine(f"sqlite:///{catalog_template}")
    try:
        return build_snapshot(engine)
    finally:
        engine.dispose()


def test_snapshot_merges_offers_and_carries_contacts(snapshot: CatalogSnapshot):
    lycees = {lyc.uai: lyc for lyc in snapshot.lycees}
    assert len(lycees) == 4559 and len(snapshot.formations) == 1859
    sep, mother = lycees["0692516K"], lycees["0693504J"]
    assert sep.type_court == "SEP" and sep.parent_uai == "0693504J"
    # The SEP carries its mother lycée's formations (filed under the LPO in the source data).
    assert {o.cfd for o in mother.offers} <= {o.cfd for o in sep.offers}
    assert "50022137" in {o.cfd for o in sep.offers}  # CAP Boulanger
    assert sep.rbe_id == mother.rbe_id and sep.is_generic_contact
    # A closed formation yields its successor: MELEC 40025510 -> 40025520.
    with_old = [lyc for lyc in snapshot.lycees if "40025510" in {o.cfd for o in lyc.offers}]
    assert with_old and all("40025520" in {o.cfd for o in lyc.offers} for lyc in with_old)
    formations = {f.cfd: f for f in snapshot.formations}
    assert formations["40025510"].closed and formations["40025510"].successor_cfds == ["40025520"]
    assert formations["50022137"].rome_codes[0] == "D1102" and formations["50022137"].label == "Boulanger"
    # Overseas lycées are their own territory, hors-contrat schools are flagged.
    assert {lyc.territory for lyc in snapshot.lycees if lyc.departement == "974"} == {"974"}
    assert sum(lyc.private_hors_contrat for lyc in snapshot.lycees) == 311
    assert all(lyc.rbe_email for lyc in snapshot.lycees)  # generic address or fallback


def test_snapshot_vocabulary(snapshot: CatalogSnapshot):
    sources = {t.source for t in snapshot.job_titles}
    assert sources == {"appellation", "rome", "onisep"}
    assert snapshot.rome_labels["D1102"].startswith("Boulanger")
    assert "D1102" in snapshot.naf_division_romes["10"]  # food industry sector -> bakers


def test_family_common_year_expands_to_specialities(search_index):
    model = search_index.model
    derived = [(uai, o.cfd) for uai, offers in model.offers.items() for o in offers.values() if o.derived_from == "famille"]
    assert derived
    uai, cfd = derived[0]
    assert not model.formations[cfd].closed


def test_snapshot_api_serves_the_contract(readonly_client):
    response = readonly_client.get("/api/v1/snapshot")
    assert response.status_code == 200
    parsed = CatalogSnapshot.model_validate_json(response.content)
    assert len(parsed.lycees) == 4559
    assert response.headers["x-catalog-version"] == parsed.version
    etag = response.headers["etag"]
    assert etag == etag_of(response.content)
    unchanged = readonly_client.get("/api/v1/snapshot", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b"" and unchanged.headers["etag"] == etag
    other = readonly_client.get("/api/v1/snapshot", headers={"If-None-Match": '"autre"'})
    assert other.status_code == 200 and other.content == response.content


def test_a_restarted_catalog_answers_304_to_the_etag_of_the_same_content(readonly_client, catalog_template, tmp_path):
    """The snapshot says when it was built; its ETag must not: a matcher holding the content cached
    before a catalog restart gets a 304, not 12 MB to parse and a read model to rebuild."""
    before = readonly_client.get("/api/v1/snapshot")
    shutil.copyfile(catalog_template, tmp_path / "catalog.db")
    with TestClient(create_app(catalog_settings(f"sqlite:///{tmp_path}/catalog.db"))) as restarted:
        again = restarted.get("/api/v1/snapshot")
        assert again.status_code == 200 and again.content != before.content  # built again, at another time
        assert again.headers["etag"] == before.headers["etag"] == etag_of(again.content) == etag_of(before.content)
        unchanged = restarted.get("/api/v1/snapshot", headers={"If-None-Match": before.headers["etag"]})
        assert unchanged.status_code == 304


def test_the_snapshot_etag_changes_with_the_content_only():
    body = b'{"generated_at":"2026-12-07T18:16:49.292103Z","version":"v1","lycees":[]}'
    same = b'{"generated_at":"2026-12-08T09:00:00Z","version":"v1","lycees":[]}'
    other = b'{"generated_at":"2026-12-07T18:16:49.292103Z","version":"v2","lycees":[]}'
    assert etag_of(body) == etag_of(same) != etag_of(other)


def test_onisep_names_keep_compound_jobs_whole():
    from services.catalog.service.vocabulary import onisep_name

    # « mécanicien/ne-outilleur/euse » was read « Mécanicien »: an exact title that took every « mécanicien »
    # to the ajusteur-monteur, and « chauffeur/euse-livreur/euse » made « chauffeur » a delivery driver.
    assert onisep_name("mécanicien/ne-outilleur/euse") == "Mécanicien-outilleur"
    assert onisep_name("chauffeur/euse-livreur/euse") == "Chauffeur-livreur"
    assert onisep_name("contrôleur/euse aérien/ne") == "Contrôleur aérien"
    assert onisep_name("aide-soignant/e") == "Aide-soignant"
    # rome_metiers_onisep.csv writes the feminine form out
    assert onisep_name("mécanicien-outilleur / mécanicienne-outilleuse", feminine_written_out=True) == "Mécanicien-outilleur"
    assert onisep_name("conducteur / conductrice de machines agricoles", feminine_written_out=True) == \
        "Conducteur de machines agricoles"


def test_snapshot_vocabulary_has_no_bare_mecanicien_title(snapshot: CatalogSnapshot):
    vocabulary = snapshot.job_vocabulary()
    assert not [t for t in vocabulary.titles if t.label.lower() == "mécanicien"]
    assert any(t.label == "Mécanicien-outilleur" for t in vocabulary.titles)
