"""What the in-process CPU micro-benchmarks share (``tests/intake/bench_handlers.py``,
``tests/matcher/bench_flows.py``): command-line options, a fresh database, timed rounds with
their SQL statement count, and stream events handled as the reliable consumer does."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlmodel import Session

from shared.contracts.events import Event
from shared.platform.db import RawInsert
from shared.platform.processing import handle_batch, handle_one


def bench_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=400, help="calls per timed round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--batch", type=int, default=1, help="events handled in one transaction")
    parser.add_argument("--postgres", action="store_true", help="a fresh database on the test PostgreSQL")
    return parser


def bench_database(args: argparse.Namespace, tmp: Path, name: str) -> tuple[str, Callable[[], None] | None]:
    """A SQLite file in ``tmp``, or with ``--postgres`` a fresh database and the function dropping it."""
    if not args.postgres:
        return f"sqlite:///{tmp}/{name}.db", None
    from tests.support.servers import create_postgres_database, postgres_admin_url

    return create_postgres_database(postgres_admin_url())


@dataclass
class Figures:
    name: str
    calls: int  # per round
    cpu_s: list[float]  # one figure per round
    statements: int  # over all rounds
    events: int = 1  # per call: figures are per event

    def line(self) -> str:
        per_call = sorted(cpu * 1000 / (self.calls * self.events) for cpu in self.cpu_s)
        each = self.calls * self.events
        return (f"{self.name:<9} cpu={per_call[0]:.2f} ms each (best of {len(per_call)} rounds of {each}; "
                f"median {statistics.median(per_call):.2f}) statements={self.statements / (each * len(per_call)):.2f} each")


@contextmanager
def statement_counter(engine: Engine) -> Iterator[list[int]]:
    """Statements sent to the database: SQLAlchemy's executions, and the driver's own executemany of
    ``RawInsert`` (one statement each, as an executemany through SQLAlchemy counts), which bypasses them."""
    count = [0]

    def on_execute(*_: Any) -> None:
        count[0] += 1

    raw_execute = RawInsert.execute

    def counted(self: RawInsert, connection: Connection, rows: Any) -> None:
        if rows and connection.engine is engine:
            count[0] += 1
        raw_execute(self, connection, rows)

    event.listen(engine, "before_cursor_execute", on_execute)
    RawInsert.execute = counted  # type: ignore[method-assign]
    try:
        yield count
    finally:
        RawInsert.execute = raw_execute  # type: ignore[method-assign]
        event.remove(engine, "before_cursor_execute", on_execute)


def measure(engine: Engine, name: str, call: Callable[[int], object], calls: int, warmup: int,
            rounds: int, events: int = 1) -> Figures:
    """``call(i)`` for i in [0, warmup) unmeasured, then ``rounds`` timed rounds of ``calls`` calls.

    The machine is shared: the best round is the figure least disturbed by other processes.
    """
    for i in range(warmup):
        call(i)
    cpu = []
    with statement_counter(engine) as count:
        for r in range(rounds):
            first = warmup + r * calls
            started = time.process_time()
            for i in range(first, first + calls):
                call(i)
            cpu.append(time.process_time() - started)
    return Figures(name, calls, cpu, count[0], events)


def consume(engine: Engine, group: str, stream: str, handler: Callable[[Any, Session], object],
            events: Sequence[Event]) -> None:
    """Events as the reliable consumer handles them: one alone, several in one transaction."""
    if len(events) == 1:
        handle_one(engine, group, stream, handler, events[0])
    else:
        handle_batch(engine, group, stream, handler, events)


def consume_all(engine: Engine, name: str, handler: Callable[[Any, Session], object], events: Sequence[Event],
                args: argparse.Namespace) -> Figures:
    """``measure`` of ``consume``, ``args.batch`` events a call."""
    b = args.batch
    return measure(engine, name, lambda i: consume(engine, "bench", name, handler, events[i * b:(i + 1) * b]),
                   args.calls // b, args.warmup // b, args.rounds, b)
