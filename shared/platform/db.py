"""Engine and session helpers. The boundary (HTTP request, stream handler) commits; code below never does."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, event, insert, inspect, text
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.schema import Table
from sqlmodel import Session, SQLModel, create_engine

from shared.platform.sqlite_writes import BUSY_TIMEOUT_MS, serialize_writers


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None hands transaction control to SQLAlchemy's "begin" event below.
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30, "isolation_level": None})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - trivial
            cur = dbapi_connection.cursor()
            # WAL: a crash never corrupts the file, and the write lock is held only for commits' duration.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cur.close()

        serialize_writers(engine)
        return engine
    url = postgres_driver_url(url)
    engine = create_engine(url, pool_size=10, max_overflow=20)
    _ping_idle_connections(engine)
    return engine


def postgres_driver_url(url: str) -> str:
    """``postgresql://`` (and ``postgres://``, the form many managed offers hand out) on psycopg 3.
    The query goes to libpq as it is: ``?sslmode=require`` (or ``verify-full&sslrootcert=…``)."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    return url


IDLE_PING_S = 10.0
_CHECKED_IN_AT = "mlp_checked_in_at"


def _ping_idle_connections(engine: Engine) -> None:
    """Check a pooled connection only when it sat idle for a while (the server may have restarted
    or dropped it). ``pool_pre_ping`` pinged at every checkout: one extra round trip per
    transaction, a measurable share of a busy consumer's time."""

    @event.listens_for(engine.pool, "checkin")
    def _checked_in(_dbapi, record) -> None:
        if record is not None:
            record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _checked_out(dbapi_connection, record, _proxy) -> None:
        if time.monotonic() - record.info.get(_CHECKED_IN_AT, 0.0) < IDLE_PING_S:
            return
        try:
            ok = engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError() from exc  # the pool opens a fresh connection and retries
        if not ok:
            raise DisconnectionError()


def table_of(model: type[SQLModel]) -> Table:
    """A table model's Core table. SQLModel sets ``__table__`` on ``table=True`` classes without
    declaring it, so reading it through here keeps the type (and fails clearly on a plain model)."""
    table = getattr(model, "__table__", None)
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not a table model (table=True)")
    return table


def create_tables(engine: Engine, tables: Sequence[type[SQLModel] | Table]) -> None:
    """Create only this service's tables: each service owns its own schema. An index added to a
    table that already exists is created too (``create_all`` skips existing tables whole)."""
    resolved = [t if isinstance(t, Table) else table_of(t) for t in tables]
    SQLModel.metadata.create_all(engine, tables=resolved)
    inspector = inspect(engine)
    for table in resolved:
        present = {index["name"] for index in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in present:
                index.create(engine, checkfirst=True)  # checkfirst: another instance may race us


def insert_rows(session: Session, model: type[SQLModel], rows: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> None:
    """Insert rows now (a list: one executemany), without ORM objects nor flush: for rows nothing
    changes in the same transaction, where building SQLModel objects and the ORM flush (on SQLite,
    one INSERT per row to read back generated ids) cost more than the statement. The session does
    not track them: a later query loads them anew. Every column without a database default must be
    given."""
    if rows:
        table = table_of(model)
        statement = _INSERTS.get(table.name)
        if statement is None:  # one statement object per table: its cache key is computed once
            statement = _INSERTS[table.name] = insert(table)
        session.execute(statement, rows)


_INSERTS: dict[str, Any] = {}


_COLUMNS: dict[str, tuple[str, ...]] = {}


def column_values(row: SQLModel) -> dict[str, Any]:
    """A model instance's column values for :func:`insert_rows` (a generated integer key left out)."""
    table = table_of(type(row))
    names = _COLUMNS.get(table.name)
    if names is None:
        names = _COLUMNS[table.name] = tuple(c.name for c in table.columns if c is not table.autoincrement_column)
    return {name: getattr(row, name) for name in names}


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back on error. Only boundaries use it."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def ping(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


class RawInsert:
    """An INSERT of whole rows run with the driver's own ``executemany``, inside the caller's
    SQLAlchemy transaction (same connection).

    For the hottest writes only (intake's accepted requests): SQLAlchemy's execution of a Core
    INSERT (parameter set-up per row, result and event machinery) cost more than SQLite's own work.
    The statement is compiled once per dialect by SQLAlchemy, and each value still goes through its
    column type's bind processor (JSON, dates stored as SQLAlchemy stores them), so the rows are
    exactly those ``connection.execute(insert(table), rows)`` writes. Every column of ``columns``
    must be in each row; nothing else is written (no Python-side defaults are applied)."""

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        self.table = table
        self.columns = tuple(columns)
        left_out = [c.name for c in table.columns
                    if c.name not in self.columns and c.default is not None and c is not table.autoincrement_column]
        if left_out:  # a Core INSERT would fill them from their defaults; this one would not
            raise ValueError(f"{table.name}: columns with a default must be given: {left_out}")
        self._compiled: dict[str, tuple[str, bool, tuple[Any, ...]]] = {}

    def _for(self, dialect: Any) -> tuple[str, bool, tuple[Any, ...]]:
        found = self._compiled.get(dialect.name)
        if found is None:
            statement = insert(self.table).values({name: bindparam(name) for name in self.columns})
            compiled = statement.compile(dialect=dialect)
            order = tuple(compiled.positiontup or ()) if compiled.positional else self.columns
            processors = compiled._bind_processors  # noqa: SLF001 - the processors SQLAlchemy itself applies
            found = (compiled.string, compiled.positional,
                     tuple((name, processors.get(name)) for name in order))
            self._compiled[dialect.name] = found
        return found

    def execute(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        sql, positional, columns = self._for(connection.dialect)
        if any(len(row) != len(columns) for row in rows):  # a key this statement does not write
            raise ValueError(f"{self.table.name}: rows must have exactly the columns {self.columns}")
        if positional:
            params: list[Any] = [tuple(row[name] if process is None else process(row[name]) for name, process in columns)
                                 for row in rows]
        else:
            params = [{name: row[name] if process is None else process(row[name]) for name, process in columns}
                      for row in rows]
        dbapi_error = connection.dialect.loaded_dbapi.Error
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(sql, params)
        except dbapi_error as exc:  # as SQLAlchemy raises it (IntegrityError…), for the callers that catch it
            raise DBAPIError.instance(sql, params, exc, dbapi_error) from exc
        finally:
            cursor.close()


_RAW_INSERTS: dict[tuple[str, tuple[str, ...]], RawInsert] = {}


def insert_raw(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """:class:`RawInsert` of ``rows`` (all with the same keys: the columns written) into ``table``."""
    if rows:
        key = (table.name, tuple(rows[0]))
        statement = _RAW_INSERTS.get(key)
        if statement is None:
            statement = _RAW_INSERTS[key] = RawInsert(table, key[1])
        statement.execute(connection, rows)
