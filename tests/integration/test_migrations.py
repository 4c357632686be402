"""Schema migrations (issue 23, item 1), on SQLite and on PostgreSQL, for each service database:

* the chain applies from empty (and back), and autogenerate finds nothing between models and migrations;
* the first revision is exactly the schema the models created before migrations existed;
* a filled database loses nothing: adopted from create_all, then through a revision that rebuilds a table;
* a service refuses a database behind its code, with the message naming ``monlyceepro migrate``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Engine,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    inspect,
    select,
)

from services.cli import SCHEMAS
from services.cli import main as cli_main
from shared.platform.db import create_tables, make_engine
from shared.platform.migrations import (
    SchemaNotCurrent,
    ServiceSchema,
    _chain_from_files,
    _script,
    check_schema,
    current_revisions,
    heads,
    schema_differences,
    upgrade,
)
from shared.platform.settings import get_settings
from tests.support.live import ServiceProcess, service_env
from tests.support.servers import create_postgres_database, postgres_admin_url

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(SCHEMAS)


@pytest.fixture
def engine(database_url):
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def other_engine(database_url, tmp_path):
    """A second, empty database on the same kind of server as ``engine``."""
    if database_url.startswith("sqlite"):
        eng, drop = make_engine(f"sqlite:///{tmp_path}/other.db"), None
    else:
        url, drop = create_postgres_database(postgres_admin_url())
        eng = make_engine(url)
    yield eng
    eng.dispose()
    if drop:
        drop()


def _legacy_create(schema: ServiceSchema, engine: Engine) -> None:
    """What start-up did before migrations: create_all of the backbone and the service's tables."""
    create_tables(engine, list(schema.metadata().sorted_tables))


def _pre_migration_create(schema: ServiceSchema, engine: Engine) -> None:
    """What start-up had made when migrations came (revision 0001's schema), without a history."""
    upgrade(schema, engine, "0001")
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE alembic_version")


def _structure(engine: Engine) -> dict:
    """Everything the database says about its tables (alembic_version aside)."""
    insp = inspect(engine)
    out = {}
    for name in sorted(set(insp.get_table_names()) - {"alembic_version"}):
        out[name] = {
            # By name: a column a migration adds comes last, where create_all puts it where the model says.
            "columns": sorted((c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                              for c in insp.get_columns(name)),
            "pk": insp.get_pk_constraint(name)["constrained_columns"],
            "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in insp.get_indexes(name)),
            "uniques": sorted((u["name"] or "", tuple(u["column_names"])) for u in insp.get_unique_constraints(name)),
            "fks": sorted((tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                          for f in insp.get_foreign_keys(name)),
        }
    return out


# --- rows: every column of every table gets a value, distinct per row (unique keys hold) ------------

def _value(column, i: int, inserted: dict[str, list[dict]]):
    fk = next(iter(column.foreign_keys), None)
    if fk is not None:
        parents = inserted[fk.column.table.name]
        return parents[i % len(parents)][fk.column.name]
    type_ = column.type.impl_instance if isinstance(column.type, TypeDecorator) else column.type
    if isinstance(type_, Boolean):
        return i % 2 == 0
    if isinstance(type_, Integer):
        return 1000 + i
    if isinstance(type_, Float):
        return 45.75 + i / 8
    if isinstance(type_, DateTime):
        moment = datetime(2026, 11, 26, 7, 45, 12, 345678, tzinfo=UTC) + timedelta(hours=i)
        return moment if type_.timezone else moment.replace(tzinfo=None)
    if isinstance(type_, Date):
        return date(2026, 9, 1) + timedelta(days=i)
    if isinstance(type_, JSON):
        return ["Boulangère", f"métier n° {i}", {"rome": "D1102"}]
    if isinstance(type_, LargeBinary):
        return f"Subject: Réponse {i}\r\n\r\nBonjour,\r\n".encode() + bytes(range(256))
    if isinstance(type_, Text):
        return f"Texte accentué « {column.name} » n° {i}\nsur deux lignes — avec des émojis ✉"
    if isinstance(type_, String):
        text = f"{i}-{column.name}-é"
        return text[: type_.length] if type_.length else text
    raise AssertionError(f"no sample value for {column.table.name}.{column.name} ({type_!r})")


def present_columns(engine: Engine, metadata: MetaData) -> dict[str, set[str]]:
    """The service's tables the database has, with the columns it has (an older revision lacks some)."""
    insp = inspect(engine)
    names = set(insp.get_table_names())
    return {t.name: {c["name"] for c in insp.get_columns(t.name)} for t in metadata.sorted_tables if t.name in names}


def _as_present(table: Table, columns: set[str]) -> Table:
    """The table as an older revision has it: a column the models give a Python default would
    otherwise be in every INSERT, although the database does not have it yet."""
    if columns >= set(table.columns.keys()):
        return table
    return Table(table.name, MetaData(), *(Column(c.name, c.type) for c in table.columns if c.name in columns))


def fill(engine: Engine, schema: ServiceSchema, rows: int = 25) -> dict[str, int]:
    """Rows in every table and column of the service that the database has."""
    inserted: dict[str, list[dict]] = {}
    present = present_columns(engine, schema.metadata())
    with engine.begin() as conn:
        for table in schema.metadata().sorted_tables:
            if table.name not in present:
                continue
            batch = [{c.name: _value(c, i, inserted) for c in table.columns
                      if c is not table.autoincrement_column and c.name in present[table.name]}
                     for i in range(rows)]
            conn.execute(_as_present(table, present[table.name]).insert(), batch)
            inserted[table.name] = batch
    return {name: len(batch) for name, batch in inserted.items()}


def snapshot(engine: Engine, metadata: MetaData, shape: dict[str, set[str]] | None = None) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order: the columns of ``metadata``, or of ``shape``
    (table -> columns, e.g. what the database had before a migration) when given."""
    with engine.connect() as conn:
        out = {}
        for table in metadata.sorted_tables:
            if shape is not None and table.name not in shape:
                continue
            columns = [c for c in table.columns if shape is None or c.name in shape[table.name]]
            out[table.name] = [tuple(row) for row in conn.execute(select(*columns).order_by(*table.primary_key))]
        return out


# --- a second revision, written in a copy of the history ------------------------------------------

# The table the test revision rebuilds: on SQLite a changed column type copies the table, drops it
# and renames the copy. The notifier's is the parent of two foreign keys.
REBUILT = {"notifier": ("notifier_thread", "subject", 300, False)}
DEFAULT_REBUILT = ("outbox_event", "last_error", 500, True)

TEST_REVISION = '''"""test: widen {column}, add a column with a default

Revision ID: {revision}
Revises: {down}
"""

import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("{table}") as batch:  # SQLite: a changed type rebuilds the table
        batch.alter_column("{column}", existing_type=sa.String(length={length}),
                           type_=sa.String(length={wider}), existing_nullable={nullable})
        batch.add_column(sa.Column("migration_note", sa.String(length=20), nullable=False,
                                   server_default="ajoutée"))


def downgrade() -> None:
    with op.batch_alter_table("{table}") as batch:
        batch.drop_column("migration_note")
'''


def next_revision(schema: ServiceSchema) -> tuple[str, str]:
    """(the history's head, the number a new revision after it takes)."""
    (head,) = heads(schema)
    return head, f"{int(head) + 1:04d}"


def with_next_revision(schema: ServiceSchema, tmp_path: Path) -> tuple[ServiceSchema, str]:
    """A copy of the service's history with one more (test) revision after its head."""
    directory = tmp_path / f"{schema.service}-migrations"
    shutil.copytree(schema.directory, directory, ignore=shutil.ignore_patterns("__pycache__"))
    table, column, length, nullable = REBUILT.get(schema.service, DEFAULT_REBUILT)
    head, revision = next_revision(schema)
    (directory / "versions" / f"{revision}_test.py").write_text(TEST_REVISION.format(
        table=table, column=column, length=length, wider=length * 2, nullable=nullable, revision=revision, down=head))
    return ServiceSchema(schema.service, schema.tables, directory), table


# --- the tests -------------------------------------------------------------------------------------

@pytest.mark.parametrize("service", SERVICES)
def test_the_chain_applies_from_empty_and_agrees_with_the_models(service, engine):
    schema = SCHEMAS[service]
    before, after = upgrade(schema, engine)
    assert before == () and after == heads(schema)
    with engine.connect() as conn:
        assert schema_differences(schema, conn) == []
    assert set(inspect(engine).get_table_names()) == {t.name for t in schema.metadata().sorted_tables} | {"alembic_version"}
    assert upgrade(schema, engine) == (heads(schema), heads(schema))  # idempotent


@pytest.mark.parametrize("service", SERVICES)
def test_the_chain_builds_the_schema_create_all_makes_from_the_models(service, engine, other_engine):
    """Tables, columns, keys and indexes, beyond what autogenerate compares (0001 was written as the
    schema create_all made before migrations; every later revision keeps the two equal)."""
    schema = SCHEMAS[service]
    _legacy_create(schema, engine)
    upgrade(schema, other_engine)
    assert _structure(other_engine) == _structure(engine)


@pytest.mark.parametrize("service", SERVICES)
def test_a_filled_database_from_before_migrations_is_adopted_without_loss(service, engine):
    schema = SCHEMAS[service]
    _pre_migration_create(schema, engine)
    legacy = present_columns(engine, schema.metadata())
    counts = fill(engine, schema)
    assert all(n == 25 for n in counts.values()) and set(counts) == set(legacy)
    rows = snapshot(engine, schema.metadata(), legacy)
    with pytest.raises(SchemaNotCurrent, match=f"monlyceepro migrate {service}"):
        check_schema(schema, engine, upgrade_empty=True)  # tables but no history: migrate first
    assert upgrade(schema, engine) == ((), heads(schema))
    assert snapshot(engine, schema.metadata(), legacy) == rows
    check_schema(schema, engine, upgrade_empty=False)


@pytest.mark.parametrize("service", SERVICES)
def test_a_revision_that_rebuilds_a_filled_table_loses_nothing(service, engine, tmp_path):
    head, revision = next_revision(SCHEMAS[service])
    schema, rebuilt = with_next_revision(SCHEMAS[service], tmp_path)
    upgrade(schema, engine, head)
    fill(engine, schema)
    rows = snapshot(engine, schema.metadata())
    assert upgrade(schema, engine) == ((head,), (revision,))
    assert snapshot(engine, schema.metadata()) == rows
    with engine.connect() as conn:
        notes = conn.exec_driver_sql(f"SELECT DISTINCT migration_note FROM {rebuilt}").scalars().all()
    assert notes == ["ajoutée"]
    structure = _structure(engine)[rebuilt]
    assert [c for c in structure["columns"] if c[0] == "migration_note"]
    assert structure["fks"] == _structure_of_models(schema)[rebuilt]["fks"]


def _structure_of_models(schema: ServiceSchema) -> dict:
    with_models = make_engine("sqlite://")
    _legacy_create(schema, with_models)
    return _structure(with_models)


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_refuses_a_database_older_than_its_code(service, engine, tmp_path):
    head, revision = next_revision(SCHEMAS[service])
    schema, _ = with_next_revision(SCHEMAS[service], tmp_path)
    upgrade(schema, engine, head)
    with pytest.raises(SchemaNotCurrent) as refused:
        check_schema(schema, engine, upgrade_empty=True)
    message = str(refused.value)
    assert f"service {service} est à la révision {head}, le code attend la révision {revision}" in message
    assert f"« monlyceepro migrate {service} »" in message
    upgrade(schema, engine)
    check_schema(schema, engine, upgrade_empty=False)
    with engine.connect() as conn:
        assert current_revisions(conn) == (revision,)


def test_an_empty_database_is_created_through_the_chain_outside_production_only(engine):
    schema = SCHEMAS["intake"]
    with pytest.raises(SchemaNotCurrent, match="est vide"):
        check_schema(schema, engine, upgrade_empty=False)
    assert inspect(engine).get_table_names() == []
    check_schema(schema, engine, upgrade_empty=True)
    with engine.connect() as conn:
        assert current_revisions(conn) == heads(schema)


def test_a_database_newer_than_the_code_is_accepted(engine):
    """Code rolled back after its migration ran: revisions stay compatible with the previous release."""
    schema = SCHEMAS["matcher"]
    upgrade(schema, engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    check_schema(schema, engine, upgrade_empty=False)


@pytest.mark.parametrize("service", SERVICES)
def test_the_history_read_from_the_files_is_alembics(service):
    """A service checks its database without importing Alembic: it reads its history from the revision
    files (issue 18, memory at rest). That reading and Alembic's agree."""
    schema = SCHEMAS[service]
    script = _script(schema)
    assert _chain_from_files(schema.directory / "versions") == (tuple(sorted(script.get_heads())),
                                                                 script.get_bases()[0])


def test_a_service_checks_a_current_database_without_importing_alembic(tmp_path):
    url = f"sqlite:///{tmp_path}/matcher.db"
    engine = make_engine(url)
    upgrade(SCHEMAS["matcher"], engine)
    engine.dispose()
    code = ("import sys; from services.matcher.migrations import SCHEMA; from shared.platform.db import make_engine; "
            "from shared.platform.migrations import check_schema; "
            f"check_schema(SCHEMA, make_engine({url!r}), upgrade_empty=False); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


@pytest.fixture
def quiet_cli(monkeypatch):
    """The command in-process, its output read with capsys: it must not point the logs at capsys's
    stream, which is closed after the test while later tests still log."""
    monkeypatch.setattr("shared.platform.logging.configure_logging", lambda *args, **kwargs: None)


def test_migrate_command_brings_every_database_to_its_head(tmp_path, monkeypatch, quiet_cli, capsys):
    monkeypatch.setenv("MLP_DATABASE_URL", f"sqlite:///{tmp_path}/{{service}}.db")
    get_settings.cache_clear()
    try:
        assert cli_main(["migrate"]) == 0
        first = capsys.readouterr().out
        assert cli_main(["migrate", "intake"]) == 0
        second = capsys.readouterr().out
    finally:
        get_settings.cache_clear()
    for service in SERVICES:
        assert f"{service}" in first and f"vide → {heads(SCHEMAS[service])[0]}" in first
    assert f"intake    révision {heads(SCHEMAS['intake'])[0]} (à jour)" in second and "matcher" not in second
    for service in SERVICES:
        eng = make_engine(f"sqlite:///{tmp_path}/{service}.db")
        with eng.connect() as conn:
            assert current_revisions(conn) == heads(SCHEMAS[service])
            assert schema_differences(SCHEMAS[service], conn) == []
        eng.dispose()


def test_autogenerate_finds_nothing_to_write(quiet_cli, capsys):
    assert cli_main(["migrate", "intake", "--autogenerate", "rien"]) == 0
    assert "rien à écrire" in capsys.readouterr().out


def test_a_service_process_refuses_to_start_until_migrated(tmp_path, redis_url):
    """The real `serve` on a database created before migrations: it exits with the message in its
    log; `monlyceepro migrate intake` adopts the database and the service starts."""
    env = service_env(tmp_path, redis_url)
    legacy = make_engine(f"sqlite:///{tmp_path}/intake.db")
    _pre_migration_create(SCHEMAS["intake"], legacy)
    legacy.dispose()
    logs = tmp_path / "logs"
    refused = ServiceProcess("intake", env, log_dir=logs).start(wait_ready=False)
    assert refused.proc.wait(60) != 0
    refused.stop()
    log = next(logs.glob("intake-*.log")).read_text()
    assert "sans historique de migrations" in log and "« monlyceepro migrate intake »" in log
    done = subprocess.run([sys.executable, "-m", "services.cli", "migrate", "intake"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"intake    révision {heads(SCHEMAS['intake'])[0]}" in done.stdout
    service = ServiceProcess("intake", env, log_dir=logs).start(timeout=120)
    service.stop()
