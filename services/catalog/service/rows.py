"""Plain copies of the ORM rows the read model keeps for as long as the catalog runs.

A SQLModel row loaded by a session is a pydantic model plus SQLAlchemy's instance state: ~2 KB of
bookkeeping (its __dict__, the state, the set of fields it was given) on top of its values, for 8,000
rows (lycées, formations, ROME jobs) read once and never written back. A slotted copy holds just the
values (~300 bytes for a lycée's 35 columns), and values that repeat (académies, régions, types,
communes…) are one string object each instead of one per row as the database driver returns them.
Measured on the real catalog: see docs/benchmarks-changelog.md (B42-mem).

The copies are read like the rows (same attribute names, same values); nothing writes them to a session.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any, TypeVar, cast

from sqlmodel import SQLModel

R = TypeVar("R", bound=SQLModel)


@cache
def _copy_class(model: type[SQLModel]) -> type:
    names = tuple(model.model_fields)

    def __repr__(self: Any) -> str:
        return f"{model.__name__}(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in names) + ")"

    return type(f"Detached{model.__name__}", (), {"__slots__": names, "__repr__": __repr__, "__module__": __name__})


def detached(rows: Iterable[R], model: type[R], strings: dict[str, str]) -> list[R]:
    """Slotted copies of ``rows`` (of ``model``), typed as the rows they stand for; ``strings`` pools the
    string values across calls (pass one dict for one build, then drop it)."""
    cls = _copy_class(model)
    names: tuple[str, ...] = cls.__slots__  # type: ignore[attr-defined]  # made by _copy_class
    out = []
    for row in rows:
        copy = cls()
        for name in names:
            value = getattr(row, name)
            if type(value) is str:
                value = strings.setdefault(value, value)
            setattr(copy, name, value)
        out.append(copy)
    return cast(list[R], out)
