"""The loader on the real data, on SQLite and PostgreSQL: counts from data/README.md, idempotence, pitfalls."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from services.catalog import repository as repo
from services.catalog.migrations import SCHEMA as CATALOG_SCHEMA
from services.catalog.models import Lycee, Rbe, RbeCoverage
from services.catalog.service.rbe_edits import update_absence, update_lycee
from services.catalog.service.snapshot import build_snapshot
from services.catalog.tasks import import_rbe_csv, load_catalog_into
from shared.platform.db import make_engine, unit_of_work
from shared.platform.migrations import upgrade
from shared.platform.outbox import OutboxEvent
from shared.platform.settings import get_settings

pytestmark = pytest.mark.timeout(180)

README_COUNTS = {
    "lycées": 4559, "formations": 1859, "offres": 38869, "métiers (ROME)": 1584, "appellations": 11522,
    "métiers ONISEP": 963, "communes": 35544,
}


def test_load_counts_and_idempotence(database_url):
    engine = make_engine(database_url)
    upgrade(CATALOG_SCHEMA, engine)
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
    _directory_round_trip(engine)
    engine.dispose()


def _directory_round_trip(engine):
    """The directory's SQL on the same backend: import, RBE edits, single-use link ids, snapshot."""
    report = import_rbe_csv(engine, "name,email,uais,deputy_email\nCamille Martin,camille@ac-lyon.fr,0693504J;0692516K,\n"
                                    "Mauvaise,x@ac-lyon.fr,0000000A,\n", correlation_id="test", confirmed=True)
    assert report.imported == 1 and [e.line for e in report.errors] == [3]
    with unit_of_work(engine) as session:
        assert update_lycee(session, "camille@ac-lyon.fr", "0693504J", "Bienvenue", ["pfmp"], "mars", "3", "t") == "capacity"
        update_absence(session, "camille@ac-lyon.fr", "2026-12-01", "2026-12-20", "suppleant@ac-lyon.fr", "t")
        repo.record_magic_link(session, "jeton-1", "camille@ac-lyon.fr")
    with unit_of_work(engine) as session:
        assert repo.consume_magic_link(session, "jeton-1") == "ok"
    with unit_of_work(engine) as session:
        assert repo.consume_magic_link(session, "jeton-1") == "used"
        assert repo.consume_magic_link(session, "jamais-emis") == "unknown"
    snapshot = {lyc.uai: lyc for lyc in build_snapshot(engine).lycees}
    assert snapshot["0693504J"].services == ["pfmp"] and snapshot["0693504J"].monthly_capacity == 3
    assert snapshot["0692516K"].rbe_email == "camille@ac-lyon.fr" and not snapshot["0692516K"].is_generic_contact
    assert snapshot["0692516K"].deputy_email == "suppleant@ac-lyon.fr"
    assert str(snapshot["0692516K"].absent_until) == "2026-12-20"


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
