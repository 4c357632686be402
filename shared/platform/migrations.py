"""Schema migrations (Alembic): one history per service database.

Each service keeps its history in ``services/<name>/migrations/`` (``env.py``, ``versions/``) and
describes it with a :class:`ServiceSchema`: its own tables (the backbone's outbox and processed-event
tables are added here, every service database carries them) and that folder. Everything else is
here, so the four ``env.py`` are two lines:

* :func:`upgrade` — ``monlyceepro migrate``: bring a database to the head of its history, under a
  lock so that two instances migrating at once apply each revision once;
* :func:`check_schema` — at start-up: a service refuses a database older than its code. An empty
  database is migrated there in dev and test (through the same chain), never in production;
* :func:`new_revision` — ``monlyceepro migrate SERVICE --autogenerate "message"``: a new revision
  written from the difference between the models and the head of the chain;
* :func:`run_env` — the body of every ``env.py``.

A database created before migrations existed (tables, no ``alembic_version``) is *adopted*:
:func:`upgrade` stamps it at the first revision, which reproduces that schema, then goes on.
"""

from __future__ import annotations

import ast
import tempfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, MetaData, TypeDecorator, inspect, text
from sqlmodel import SQLModel

from shared.platform.db import make_engine
from shared.platform.logging import get_logger
from shared.platform.outbox import BACKBONE_TABLES

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

# Alembic (and Mako, and every revision module) is imported only to migrate or to explain a mismatch:
# a service starting on a current database checks it with the two functions below (issue 18: memory).

log = get_logger(__name__)

VERSION_TABLE = "alembic_version"


@dataclass(frozen=True)
class ServiceSchema:
    """A service's database schema: its tables and the folder of its migration history."""

    service: str
    tables: tuple[type[SQLModel], ...]
    directory: Path

    def metadata(self) -> MetaData:
        """A metadata holding this database's tables only (``SQLModel.metadata`` holds every
        imported service's): what the migrations must produce."""
        md = MetaData()
        for model in (*BACKBONE_TABLES, *self.tables):
            model.__table__.to_metadata(md)  # type: ignore[attr-defined]
        return md


class SchemaNotCurrent(RuntimeError):
    """The database is not at the head of the service's migration history."""


def alembic_config(schema: ServiceSchema, *, connection: Connection | None = None) -> Config:
    """Alembic's configuration for one service, without an alembic.ini: env.py runs on ``connection``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(schema.directory))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(schema.directory / "versions"))
    cfg.attributes["connection"] = connection
    return cfg


_HEADS: dict[Path, tuple[tuple[str, ...], str]] = {}


def _script(schema: ServiceSchema) -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(schema))


def heads(schema: ServiceSchema) -> tuple[str, ...]:
    """The head revision(s) of the code (one, unless someone branched the history)."""
    return _heads_and_root(schema)[0]


def root_revision(schema: ServiceSchema) -> str:
    """The first revision: the schema as it was created before migrations existed."""
    return _heads_and_root(schema)[1]


def _heads_and_root(schema: ServiceSchema) -> tuple[tuple[str, ...], str]:
    cached = _HEADS.get(schema.directory)
    if cached is None:
        cached = _chain_from_files(schema.directory / "versions")
        if cached is None:  # a history the plain reading below does not cover: ask Alembic
            script = _script(schema)
            bases = script.get_bases()
            if len(bases) != 1:
                raise RuntimeError(f"{schema.directory}: expected one first revision, found {bases}")
            cached = (tuple(sorted(script.get_heads())), bases[0])
        _HEADS[schema.directory] = cached
    return cached


def _chain_from_files(versions: Path) -> tuple[tuple[str, ...], str] | None:
    """Heads and first revision read from the revision files' ``revision`` and ``down_revision``
    assignments, without importing them (nor Alembic). None when a file is not the plain kind this
    reads (a computed value, branch labels, dependencies, a merge, several first revisions): Alembic
    then reads the history. tests/integration/test_migrations.py checks both readings agree."""
    parents: dict[str, str | None] = {}
    for path in sorted(versions.glob("*.py")):
        values: dict[str, object] = {}
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            else:
                continue
            if isinstance(target, ast.Name):
                try:
                    values[target.id] = ast.literal_eval(value)
                except (ValueError, TypeError, SyntaxError):
                    values[target.id] = ValueError  # not a plain literal
        revision, down = values.get("revision"), values.get("down_revision")
        if not isinstance(revision, str) or not (down is None or isinstance(down, str)) or revision in parents:
            return None
        if values.get("branch_labels") is not None or values.get("depends_on") is not None:
            return None
        parents[revision] = down
    bases = [rev for rev, down in parents.items() if down is None]
    if len(bases) != 1 or any(down is not None and down not in parents for down in parents.values()):
        return None
    heads = tuple(sorted(set(parents) - {down for down in parents.values() if down is not None}))
    return heads, bases[0]


def current_revisions(connection: Connection) -> tuple[str, ...]:
    """The database's revision(s), as Alembic's ``MigrationContext.get_current_heads`` reads them."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return ()
    return tuple(sorted(connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {VERSION_TABLE}


def _lock(connection: Connection, schema: ServiceSchema) -> None:
    """Serialise migrations of one database. SQLite: the engine starts every transaction with
    BEGIN IMMEDIATE (shared.platform.db), the write lock is already ours. PostgreSQL: an advisory
    lock held until the transaction ends."""
    if connection.dialect.name == "postgresql":
        key = zlib.crc32(f"monlyceepro-migrate:{schema.service}".encode())
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def upgrade(schema: ServiceSchema, engine: Engine, revision: str = "head") -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Bring the database to ``revision``, in one transaction; returns the revisions before and after."""
    from alembic import command

    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection if connection.dialect.name == "sqlite" else None
        if raw is not None:
            # A revision that rebuilds a table on SQLite (batch mode: copy, drop, rename) must not
            # trip, or cascade through, the foreign keys of the rows that reference it. SQLite only
            # takes this pragma outside a transaction; the keys are checked before the commit.
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                _lock(connection, schema)
                before = current_revisions(connection)
                cfg = alembic_config(schema, connection=connection)
                if not before and _tables(connection):
                    # Created by create_all before migrations existed: that schema is the first revision's.
                    log.warning("schema_adopted", service=schema.service, revision=root_revision(schema))
                    command.stamp(cfg, root_revision(schema))
                command.upgrade(cfg, revision)
                after = current_revisions(connection)
                if raw is not None and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()):
                    raise RuntimeError(f"{schema.service}: the migration broke foreign keys: {broken[:5]}")
        finally:
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")
    return before, after


def check_schema(schema: ServiceSchema, engine: Engine, *, upgrade_empty: bool) -> None:
    """At start-up: refuse a database that is not at the head of the code's history.

    An empty database is migrated (through the whole chain) when ``upgrade_empty`` (dev and test:
    test suites create databases on the fly); in production ``monlyceepro migrate`` runs before.
    A database at a revision the code does not know (newer code migrated it, then was rolled back)
    is accepted with a warning: revisions are written to be compatible with the previous release.
    """
    code = heads(schema)
    with engine.connect() as connection:
        current = current_revisions(connection)
        empty = not current and not _tables(connection)
    if current == code:
        return
    if empty and upgrade_empty:
        upgrade(schema, engine)
        log.info("schema_created", service=schema.service, revision=",".join(code))
        return
    known = {rev.revision for rev in _script(schema).walk_revisions()}
    if current and not set(current) <= known:
        log.warning("schema_newer_than_code", service=schema.service, database=",".join(current),
                    code=",".join(code))
        return
    state = f"à la révision {', '.join(current)}" if current else (
        "vide" if empty else "sans historique de migrations (créée avant les migrations)")
    message = (f"La base de données du service {schema.service} est {state}, le code attend la révision "
               f"{', '.join(code)} : lancez « monlyceepro migrate {schema.service} » avant de démarrer le service.")
    log.error("schema_not_current", service=schema.service, database=",".join(current) or None,
              code=",".join(code), message=message)
    raise SchemaNotCurrent(message)


def schema_differences(schema: ServiceSchema, connection: Connection) -> list:
    """What autogenerate would write: the differences between the models and the database."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    context = MigrationContext.configure(connection, opts=_context_options(schema.metadata()))
    return compare_metadata(context, schema.metadata())


def new_revision(schema: ServiceSchema, message: str) -> Path | None:
    """Write the next revision from the models' difference with the head of the chain (computed on
    a scratch SQLite database, so no real database is needed). None when there is nothing to write."""
    from alembic import command

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/scratch.db")
        try:
            upgrade(schema, engine)
            with engine.connect() as connection:
                if not schema_differences(schema, connection):
                    return None
                cfg = alembic_config(schema, connection=connection)
                number = sum(1 for _ in _script(schema).walk_revisions()) + 1
                script = command.revision(cfg, message=message, autogenerate=True, rev_id=f"{number:04d}")
        finally:
            engine.dispose()
    _HEADS.pop(schema.directory, None)
    return Path(script.path) if script is not None and not isinstance(script, list) else None


def _render_item(type_: str, obj, autogen_context) -> str | bool:
    """Revisions must not import the models (they change; a revision never does): a column of a
    custom type (UTCDateTime, SQLModel's AutoString) is written as its underlying SQLAlchemy type."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl_instance!r}"
    return False


def _context_options(metadata: MetaData) -> dict:
    return {"target_metadata": metadata, "render_as_batch": True, "compare_type": True,
            "render_item": _render_item, "version_table": VERSION_TABLE}


def run_env(schema: ServiceSchema) -> None:
    """The body of ``services/<name>/migrations/env.py``. Alembic runs it from :func:`upgrade` and
    :func:`new_revision`, which open the connection (and take the lock) themselves."""
    from alembic import context

    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("Run migrations through `monlyceepro migrate` (shared.platform.migrations), not `alembic`.")
    context.configure(connection=connection, **_context_options(schema.metadata()))
    with context.begin_transaction():
        context.run_migrations()


def upgrade_all(schemas: Sequence[ServiceSchema], url_for) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """``monlyceepro migrate``: each service's database to its head, in order."""
    results = []
    for schema in schemas:
        engine = make_engine(url_for(schema.service))
        try:
            before, after = upgrade(schema, engine)
        finally:
            engine.dispose()
        results.append((schema.service, before, after))
    return results
