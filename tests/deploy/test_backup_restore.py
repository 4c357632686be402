"""The backup and restore commands of docs/operations.md, run on a service database (intake's, migrated
to its head): pg_dump in custom format while it is in use, then pg_restore --clean over a database that
changed since; the restored database is at its revision, and a service would start on it."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from sqlalchemy.engine import make_url
from sqlmodel import Session, func, select

from services.intake.migrations import SCHEMA
from shared.contracts.events import CatalogChanged
from shared.platform.db import make_engine
from shared.platform.migrations import check_schema, current_revisions, heads, upgrade
from shared.platform.outbox import OutboxEvent, add_to_outbox
from tests.ops.support import ROOT

pytestmark = pytest.mark.postgres


def libpq_url(url: str) -> str:
    """The URL as pg_dump takes it (no SQLAlchemy driver name)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def test_pg_dump_then_pg_restore_brings_a_service_database_back(postgres_url, tmp_path):
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump / pg_restore absent (apt-get install postgresql-client)")
    engine = make_engine(postgres_url)
    upgrade(SCHEMA, engine)  # what `monlyceepro migrate intake` leaves
    events = [CatalogChanged(correlation_id=f"backup{i}", uais=["0690001A"], change="profile") for i in range(3)]
    with Session(engine) as session:
        for event in events:
            add_to_outbox(session, event)
        session.commit()

    def ids() -> set[str]:
        with Session(engine) as session:
            return set(session.exec(select(OutboxEvent.event_id)).all())

    before = ids()
    dump = tmp_path / "mlp_intake.dump"
    url = libpq_url(postgres_url)
    subprocess.run(["pg_dump", "-Fc", "-d", url, "-f", str(dump)], check=True, timeout=120)
    with Session(engine) as session:  # what happens after the dump, then the loss
        add_to_outbox(session, CatalogChanged(correlation_id="after", uais=["0690001A"], change="profile"))
        session.commit()
        session.exec(OutboxEvent.__table__.delete().where(OutboxEvent.correlation_id == "backup0"))
        session.commit()
    engine.dispose()  # the service is stopped during the restore
    subprocess.run(["pg_restore", "--clean", "--if-exists", "--no-owner", "-d", url, str(dump)], check=True,
                   timeout=120)
    engine = make_engine(postgres_url)
    try:
        assert ids() == before and len(before) == 3
        with Session(engine) as session:
            assert session.exec(select(func.count()).select_from(OutboxEvent)).one() == 3
        with engine.connect() as conn:
            assert current_revisions(conn) == heads(SCHEMA)
        check_schema(SCHEMA, engine, upgrade_empty=False)  # what a service checks at start-up
    finally:
        engine.dispose()
    docs = (ROOT / "docs/operations.md").read_text(encoding="utf-8")
    assert 'pg_dump -Fc -d "postgresql://' in docs and "pg_restore --clean --if-exists --no-owner -d" in docs
