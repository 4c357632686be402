"""Communes, postal codes, distances and territories, from data/communes.csv and territoires.csv.

Shared because three services need the same answer to "where is 69007?": intake validates it,
the catalog searches around it, the matcher routes from it.
"""

from __future__ import annotations

import bisect
import csv
import math
import re
import sys
import unicodedata
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import overload

from shared.platform.memory import release_free_memory
from shared.platform.settings import PROJECT_ROOT

DATA_DIR = PROJECT_ROOT / "data"

# Overseas départements are separate territories: never route across the sea.
OVERSEAS = {"971", "972", "973", "974", "975", "976", "977", "978", "984", "986", "987", "988", "989"}


@dataclass(frozen=True, slots=True)
class Commune:
    insee: str
    name: str
    postal_code: str
    departement: str
    latitude: float | None
    longitude: float | None

    @property
    def territory(self) -> str:
        return territory_of(self.departement)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.postal_code})" if self.postal_code else self.name


@dataclass(frozen=True, slots=True)
class Territoire:
    departement: str
    departement_name: str
    academie_code: str
    academie: str
    region_code: str
    region: str


def territory_of(departement: str | None) -> str:
    """'metropole', 'corse', or the overseas département code. Corsica is its own island."""
    if not departement:
        return "inconnu"
    if departement in {"2A", "2B", "20"}:
        return "corse"
    if departement in OVERSEAS or departement.startswith("97") or departement.startswith("98"):
        return departement[:3]
    return "metropole"


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6371.0088
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def fold(text: str) -> str:
    """Accent- and case-insensitive form used by every search: 'Électricien' -> 'electricien'."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.lower().replace("-", " ").replace("'", " ").split())


class CommuneIndex:
    """The communes, held as columns (strings joined into one, arrays of numbers), not one ``Commune`` per row.

    35,000 ``Commune`` objects and the dicts pointing at them cost ~13 MiB in each of the three services that
    load them (intake, catalog, matcher); these columns ~2 MiB. A ``Commune`` is made when one is asked for:
    ``communes``, ``by_insee`` and ``by_postal`` read like the list and dicts they replace (same order, same
    first-of-duplicates), and ``Commune`` compares by value, so callers see the same answers."""

    def __init__(self, columns: _Columns, territoires: dict[str, Territoire]) -> None:
        self._c = columns
        self.territoires = territoires
        self.communes = _CommuneList(columns)
        self.by_insee = _ByInsee(columns)
        self.by_postal = _ByPostal(columns)
        # The folded names, one line each in data order, in one string: what suggest() and named() scan.
        self._names = "\n" + "\n".join(fold(columns.name(i)) for i in range(len(columns))) + "\n"
        self._line_starts = _starts(self._names)
        self._by_folded: array | None = None  # rows by folded name, for named()

    def _communes_at(self, q: str, *, prefix: bool, whole: bool = False) -> list[int]:
        """Indexes of the communes whose folded name starts with (``prefix``), is (``whole``) or contains ``q``
        (folded, so without newline), in data order, once each."""
        pattern, shift = ("\n" + re.escape(q), 1) if prefix or whole else (re.escape(q), 0)
        if whole:  # a lookahead: the next line's match needs this line's closing newline
            pattern += "(?=\n)"
        out: list[int] = []
        for match in re.finditer(pattern, self._names):
            i = bisect.bisect_right(self._line_starts, match.start() + shift) - 1
            if not out or out[-1] != i:
                out.append(i)
        return out

    def resolve(self, postal_code: str | None = None, insee: str | None = None) -> Commune | None:
        """The commune for an INSEE code and/or a postal code (first candidate when only the postal code is known)."""
        if insee and insee in self.by_insee:
            commune = self.by_insee[insee]
            if postal_code and postal_code in self.by_postal:
                for candidate in self.by_postal[postal_code]:
                    if candidate.insee == insee:
                        return candidate
            return commune
        if postal_code and postal_code in self.by_postal:
            candidates = [c for c in self.by_postal[postal_code] if c.latitude is not None]
            # Prefer an arrondissement (Paris/Lyon/Marseille) or a located commune over the whole city.
            arrondissements = [c for c in candidates if c.insee[:2] in {"75", "69", "13"} and c.insee[2:3] in {"1", "3", "2"}
                               and c.insee not in {"75056", "69123", "13055"}]
            return (arrondissements or candidates or self.by_postal[postal_code])[0]
        return None

    def suggest(self, text: str, limit: int = 10) -> list[Commune]:
        """Autocomplete on postal code prefix or commune name (accent-insensitive)."""
        text = text.strip()
        if not text:
            return []
        if text.isascii() and text.isdigit():
            out: list[Commune] = []
            for code in sorted(self.by_postal):
                if code.startswith(text):
                    out.extend(self.by_postal[code])
                    if len(out) >= limit:
                        break
            return out[:limit]
        q = fold(text)
        name = self._c.name
        if not q:
            starts, contains = list(range(len(self._c))), []
        else:
            starts = self._communes_at(q, prefix=True)
            if len(starts) < limit:
                skip = set(starts)
                contains = [i for i in self._communes_at(q, prefix=False) if i not in skip]
            else:
                contains = []
        seen: set[tuple[str, str]] = set()
        out = []
        for i in sorted(starts, key=lambda i: (len(n := name(i)), n)) + contains:
            key = (self._c.insee(i), self._c.postal_code(i))
            if key not in seen:
                seen.add(key)
                out.append(self._c.commune(i))
            if len(out) >= limit:
                break
        return out

    def named(self, text: str) -> list[Commune]:
        """The communes whose name is exactly ``text`` (accent- and case-insensitive), in data order, one per
        (INSEE code, postal code): the first row of each pair. A binary search in the rows sorted by folded
        name (an array of 35,000 ints, built on first use): intake's form asks on each request without INSEE."""
        q = fold(text)
        if not q:
            return []
        if self._by_folded is None:
            self._by_folded = array("i", sorted(range(len(self._c)), key=self._folded))
        lo = bisect.bisect_left(self._by_folded, q, key=self._folded)
        hi = bisect.bisect_right(self._by_folded, q, lo=lo, key=self._folded)
        return [self._c.commune(i) for i in sorted(self._by_folded[lo:hi]) if i not in self._c.repeats]

    def _folded(self, i: int) -> str:
        return self._names[self._line_starts[i]:self._line_starts[i + 1] - 1]

    def nearest_postal_codes(self, postal_code: str, limit: int = 3) -> list[str]:
        """Suggestions for an unknown postal code: known codes of the same département, closest in value."""
        if not (postal_code.isascii() and postal_code.isdigit()):
            return []
        target = int(postal_code)
        same_dept = [c for c in self.by_postal if c[:2] == postal_code[:2]]
        return sorted(same_dept, key=lambda c: abs(int(c) - target))[:limit]

    def territoire(self, departement: str | None) -> Territoire | None:
        return self.territoires.get(departement or "")


def _starts(lines: str) -> array:
    """Offset of each line of ``"\\n" + "\\n".join(items) + "\\n"`` (the first item's is 1), and the text's end."""
    out = array("i", [1])
    at = 0
    while (at := lines.find("\n", at + 1)) != -1:
        out.append(at + 1)
    return out


class _Columns:
    """The rows of communes.csv as columns: text fields joined into one string each (``_starts`` finds a
    row), repeated codes as indexes into the distinct values, coordinates as doubles (NaN: unknown)."""

    def __init__(self, rows: Iterable[dict[str, str]]) -> None:
        insee: list[str] = []
        names: list[str] = []
        self.postal_of, self.departement_of = array("i"), array("i")
        self.latitudes, self.longitudes = array("d"), array("d")
        postal_ids: dict[str, int] = {}
        departement_ids: dict[str, int] = {}
        for row in rows:
            insee.append(row["code_commune_insee"])
            names.append(row["nom_commune"])
            self.postal_of.append(postal_ids.setdefault(row["code_postal"], len(postal_ids)))
            self.departement_of.append(departement_ids.setdefault(row["code_departement"], len(departement_ids)))
            self.latitudes.append(float(row["latitude"]) if row["latitude"] else math.nan)
            self.longitudes.append(float(row["longitude"]) if row["longitude"] else math.nan)
        self._insee = "\n" + "\n".join(insee) + "\n"
        self._insee_starts = _starts(self._insee)
        self._names = "\n" + "\n".join(names) + "\n"
        self._name_starts = _starts(self._names)
        # Rows sorted by INSEE code (stable: the first row of a code first), for by_insee's binary search.
        self.by_code = array("i", sorted(range(len(insee)), key=insee.__getitem__))
        repeats = set()  # rows whose (INSEE, postal code) pair an earlier row has
        self.distinct_insee = 0
        group: set[int] = set()  # postal codes of the current INSEE code's rows
        for n, i in enumerate(self.by_code):
            if n == 0 or insee[i] != insee[self.by_code[n - 1]]:
                self.distinct_insee += 1
                group.clear()
            if self.postal_of[i] in group:
                repeats.add(i)
            group.add(self.postal_of[i])
        self.repeats = frozenset(repeats)
        # The distinct codes are the only small objects kept: made once the rows' strings are gone, so they
        # do not keep the parse's memory pages alive (a page is freed only when nothing in it is).
        codes, departements = "\n".join(postal_ids), "\n".join(departement_ids)
        del insee, names, postal_ids, departement_ids
        self.postal_codes = [sys.intern(c) for c in codes.split("\n")] if codes or len(self) else []
        self.departements = [sys.intern(c) for c in departements.split("\n")] if departements or len(self) else []

    def __len__(self) -> int:
        return len(self._insee_starts) - 1

    def insee(self, i: int) -> str:
        return self._insee[self._insee_starts[i]:self._insee_starts[i + 1] - 1]

    def name(self, i: int) -> str:
        return self._names[self._name_starts[i]:self._name_starts[i + 1] - 1]

    def postal_code(self, i: int) -> str:
        return self.postal_codes[self.postal_of[i]]

    def commune(self, i: int) -> Commune:
        lat, lon = self.latitudes[i], self.longitudes[i]
        return Commune(self.insee(i), self.name(i), self.postal_code(i), self.departements[self.departement_of[i]],
                       None if math.isnan(lat) else lat, None if math.isnan(lon) else lon)

    def first_of(self, insee: str) -> int | None:
        """The first row with this INSEE code."""
        at = bisect.bisect_left(self.by_code, insee, key=self.insee)
        return self.by_code[at] if at < len(self.by_code) and self.insee(self.by_code[at]) == insee else None


class _CommuneList(Sequence[Commune]):
    def __init__(self, columns: _Columns) -> None:
        self._c = columns

    def __len__(self) -> int:
        return len(self._c)

    @overload
    def __getitem__(self, i: int) -> Commune: ...
    @overload
    def __getitem__(self, i: slice) -> list[Commune]: ...
    def __getitem__(self, i: int | slice) -> Commune | list[Commune]:
        if isinstance(i, slice):
            return [self._c.commune(j) for j in range(len(self._c))[i]]
        if not -len(self._c) <= i < len(self._c):
            raise IndexError(i)
        return self._c.commune(i % len(self._c))


class _ByInsee(Mapping[str, Commune]):
    """INSEE code -> its first commune in data order."""

    def __init__(self, columns: _Columns) -> None:
        self._c = columns

    def __getitem__(self, insee: str) -> Commune:
        i = self._c.first_of(insee) if isinstance(insee, str) else None
        if i is None:
            raise KeyError(insee)
        return self._c.commune(i)

    def __contains__(self, insee: object) -> bool:
        return isinstance(insee, str) and self._c.first_of(insee) is not None

    def __iter__(self) -> Iterator[str]:  # first-appearance order, as the dict it replaces
        seen: set[str] = set()
        for i in range(len(self._c)):
            if (code := self._c.insee(i)) not in seen:
                seen.add(code)
                yield code

    def __len__(self) -> int:
        return self._c.distinct_insee


class _ByPostal(Mapping[str, list[Commune]]):
    """Postal code -> its communes in data order (a new list each time); the communes without one have none."""

    def __init__(self, columns: _Columns) -> None:
        self._c = columns
        self._ids = {code: n for n, code in enumerate(columns.postal_codes) if code}
        rows = sorted(range(len(columns)), key=columns.postal_of.__getitem__)  # stable: data order per code
        self._rows = array("i", rows)
        self._group_starts = array("i", [0] * (len(columns.postal_codes) + 1))
        for i in rows:
            self._group_starts[columns.postal_of[i] + 1] += 1
        for n in range(len(columns.postal_codes)):
            self._group_starts[n + 1] += self._group_starts[n]

    def __getitem__(self, postal_code: str) -> list[Commune]:
        n = self._ids[postal_code]
        return [self._c.commune(i) for i in self._rows[self._group_starts[n]:self._group_starts[n + 1]]]

    def __contains__(self, postal_code: object) -> bool:
        return postal_code in self._ids

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)


def load_communes(data_dir: Path = DATA_DIR) -> CommuneIndex:
    """The communes of ``data_dir``, loaded once per directory: ``load_communes()`` and
    ``load_communes(settings.data_dir)`` are the same index (the cache keyed them apart, and the matcher
    held two copies)."""
    return _load_communes(Path(data_dir))


@lru_cache(maxsize=4)
def _load_communes(data_dir: Path) -> CommuneIndex:
    with open(data_dir / "communes.csv", encoding="utf-8", newline="") as fh:
        columns = _Columns(csv.DictReader(fh))
    with open(data_dir / "territoires.csv", encoding="utf-8", newline="") as fh:
        territoires = {
            row["code_departement"]: Territoire(
                row["code_departement"], row["departement"], row["code_academie"], row["academie"],
                row["code_region"], row["region"],
            )
            for row in csv.DictReader(fh)
        }
    index = CommuneIndex(columns, territoires)
    release_free_memory()  # the parse's pages (~10 MiB at its peak): the services load the communes once
    return index
