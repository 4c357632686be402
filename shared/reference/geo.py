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
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

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
    def __init__(self, communes: list[Commune], territoires: dict[str, Territoire]) -> None:
        self.communes = communes
        self.territoires = territoires
        self.by_insee: dict[str, Commune] = {}
        self.by_postal: dict[str, list[Commune]] = {}
        for c in communes:
            self.by_insee.setdefault(c.insee, c)
            if c.postal_code:
                self.by_postal.setdefault(c.postal_code, []).append(c)
        # The folded names, one line each in data order, in one string: what suggest() scans (35,000 pairs of
        # a folded name and its commune cost ~5 MiB in each service that loads the communes; this, ~1 MiB).
        names = [fold(c.name) for c in communes]
        self._names = "\n" + "\n".join(names) + "\n"
        self._line_starts = array("l", [0] * len(names))  # offset of each commune's line in _names
        offset = 1
        for i, name in enumerate(names):
            self._line_starts[i] = offset
            offset += len(name) + 1
        self._by_name: dict[str, list[Commune]] | None = None

    def _folded(self) -> list[str]:
        return self._names[1:-1].split("\n") if self.communes else []

    def _communes_at(self, q: str, *, prefix: bool) -> list[int]:
        """Indexes of the communes whose folded name starts with (``prefix``) or contains ``q`` (folded, so
        without newline), in data order, once each."""
        pattern, shift = ("\n" + q, 1) if prefix else (q, 0)
        out: list[int] = []
        for match in re.finditer(re.escape(pattern), self._names):
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
        if text.isdigit():
            out: list[Commune] = []
            for code in sorted(self.by_postal):
                if code.startswith(text):
                    out.extend(self.by_postal[code])
                    if len(out) >= limit:
                        break
            return out[:limit]
        q = fold(text)
        if not q:
            starts, contains = list(self.communes), []
        else:
            first = self._communes_at(q, prefix=True)
            starts = [self.communes[i] for i in first]
            if len(starts) < limit:
                skip = set(first)
                contains = [self.communes[i] for i in self._communes_at(q, prefix=False) if i not in skip]
            else:
                contains = []
        seen: set[tuple[str, str]] = set()
        out = []
        for c in sorted(starts, key=lambda c: (len(c.name), c.name)) + contains:
            key = (c.insee, c.postal_code)
            if key not in seen:
                seen.add(key)
                out.append(c)
            if len(out) >= limit:
                break
        return out

    def named(self, text: str) -> list[Commune]:
        """The communes whose name is exactly ``text`` (accent- and case-insensitive), in data order;
        the index is built on first use (a file of hundreds of commune names: one lookup each, where
        ``suggest`` scans every name)."""
        if self._by_name is None:
            by_name: dict[str, list[Commune]] = {}
            seen: set[tuple[str, str]] = set()
            for name, c in zip(self._folded(), self.communes, strict=True):
                if (c.insee, c.postal_code) not in seen:
                    seen.add((c.insee, c.postal_code))
                    by_name.setdefault(name, []).append(c)
            self._by_name = by_name
        return list(self._by_name.get(fold(text), ()))

    def nearest_postal_codes(self, postal_code: str, limit: int = 3) -> list[str]:
        """Suggestions for an unknown postal code: known codes of the same département, closest in value."""
        if not postal_code.isdigit():
            return []
        target = int(postal_code)
        same_dept = [c for c in self.by_postal if c[:2] == postal_code[:2]]
        return sorted(same_dept, key=lambda c: abs(int(c) - target))[:limit]

    def territoire(self, departement: str | None) -> Territoire | None:
        return self.territoires.get(departement or "")


def _float(value: str) -> float | None:
    return float(value) if value else None


@lru_cache(maxsize=4)
def load_communes(data_dir: Path = DATA_DIR) -> CommuneIndex:
    with open(data_dir / "communes.csv", encoding="utf-8", newline="") as fh:
        communes = [
            Commune(  # postal codes and départements repeat: one string object each (interned)
                insee=row["code_commune_insee"],
                name=row["nom_commune"],
                postal_code=sys.intern(row["code_postal"]),
                departement=sys.intern(row["code_departement"]),
                latitude=_float(row["latitude"]),
                longitude=_float(row["longitude"]),
            )
            for row in csv.DictReader(fh)
        ]
    with open(data_dir / "territoires.csv", encoding="utf-8", newline="") as fh:
        territoires = {
            row["code_departement"]: Territoire(
                row["code_departement"], row["departement"], row["code_academie"], row["academie"],
                row["code_region"], row["region"],
            )
            for row in csv.DictReader(fh)
        }
    return CommuneIndex(communes, territoires)
