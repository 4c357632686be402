"""The loader on the real data, on SQLite and PostgreSQL: counts from data/README.md, idempotence, pitfalls."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from services.catalog import repository as repo
from services.catalog.loading import load_catalog_into
from services.catalog.models import ALL_TABLES, Lycee, Rbe, RbeCoverage
from shared.db import create_tables, make_engine
from shared.outbox import BACKBONE_TABLES, OutboxEvent
from shared.settings import get_settings

pytestmark = pytest.mark.timeout(180)

README_COUNTS = {
    "lycées": 4559, "formations": 1859, "offres": 38869, "métiers (ROME)": 1584, "appellations": 11522,
    "métiers ONISEP": 963, "communes": 35544,
}


def test_load_counts_and_idempotence(database_url):
    engine = make_engine(database_url)
    create_tables(engine, [*BACKBONE_TABLES, *ALL_TABLES])
    data_dir = get_settings().data_dir
    first = load_catalog_into(engine, data_dir)
    assert first.changed and first.counts == README_COUNTS
    with Session(engine) as session:
        assert repo.reference_counts(session) == README_COUNTS
        version = repo.get_meta(session, "version")
        coverage = len(session.exec(select(RbeCoverage)).all())
        outbox = len(session.exec(select(OutboxEvent)).all())

    second = load_catalog_into(engine, data_dir)
    assert not second.changed and second.counts == README_COUNTS
    with Session(engine) as session:
        assert repo.get_meta(session, "version") == version
        assert len(session.exec(select(RbeCoverage)).all()) == coverage
        assert len(session.exec(select(OutboxEvent)).all()) == outbox == 1  # one "reload" event, not two

        # Pitfalls: a SEP shares its mother lycée's generic address; flags are set from the annuaire.
        sep = session.get(Lycee, "0010017N")
        assert sep.type_court == "SEP" and sep.parent_uai == "0010016M" and sep.formations_uai == "0010016M"
        assert session.get(RbeCoverage, "0010017N").rbe_email == session.get(RbeCoverage, "0010016M").rbe_email
        assert session.get(Rbe, session.get(RbeCoverage, "0010016M").rbe_email).is_generic
        lycees = session.exec(select(Lycee)).all()
        assert sum(lyc.private_hors_contrat for lyc in lycees) == 311
        assert sum(lyc.vocational_core for lyc in lycees) == 3668
        assert any(lyc.bts_only and lyc.type_court in {"LGT", "LG", "LT"} for lyc in lycees)
        assert not any(lyc.bts_only and lyc.type_court in {"LP", "SEP"} for lyc in lycees)
        assert {lyc.territory for lyc in lycees if lyc.departement_code == "974"} == {"974"}
    engine.dispose()


def test_forced_reload_keeps_the_rbe_directory(catalog_url):
    engine = make_engine(catalog_url)
    with Session(engine) as session:
        repo.upsert_rbe(session, "rbe.test@ac-lyon.fr", "Camille Test", None)
        repo.assign_coverage(session, "rbe.test@ac-lyon.fr", ["0010001W"])
        session.commit()
    result = load_catalog_into(engine, get_settings().data_dir, force=True)
    assert result.changed
    with Session(engine) as session:
        assert session.get(RbeCoverage, "0010001W").rbe_email == "rbe.test@ac-lyon.fr"
        assert not session.get(Rbe, "rbe.test@ac-lyon.fr").is_generic
    engine.dispose()
