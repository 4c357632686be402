"""In-memory read model of the catalog, built from a ``CatalogSnapshot``.

Indexes (all built once per snapshot, then read-only, so a swap is atomic):
* job title (folded) -> ROME codes, plus a word index for free text;
* ROME -> CFDs that train for it, closed over successor and predecessor diplomas;
* CFD -> spatial grid cells -> lycées teaching it; and one grid for every lycée;
the grid is keyed by territory so nothing is ever found across the sea.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from shared.catalog_snapshot import CatalogSnapshot
from shared.geo import fold

CELL_DEG = 0.1  # ~11 x 8 km: fine enough for the nearest-first search to stop early in dense cities
ROME_CODE = re.compile(r"^[A-N]\d{4}$")
STOPWORDS = {"de", "du", "des", "la", "le", "les", "en", "et", "a", "au", "aux", "d", "l", "un", "une", "pour", "dans"}

Cell = tuple[str, int, int]


@dataclass(slots=True)
class LyceeView:
    uai: str
    name: str
    family: str  # parent UAI for a SEP / annexe, else itself: one establishment, one assignment
    type_court: str
    territory: str
    academie: str
    commune: str
    latitude: float
    longitude: float
    offers: dict[str, frozenset[str]]  # cfd -> tracks
    apprenticeship_capable: bool
    services: frozenset[str]
    monthly_capacity: int | None
    rbe_id: str
    rbe_email: str
    rbe_name: str | None
    is_generic_contact: bool
    deputy_email: str | None
    absent_from: date | None
    absent_until: date | None

    def absent_on(self, day: date) -> bool:
        if self.absent_from is None and self.absent_until is None:
            return False
        start = self.absent_from or date.min
        end = self.absent_until or date.max
        return start <= day <= end


def _cell(territory: str, lat: float, lon: float, cell_deg: float = CELL_DEG) -> Cell:
    return (territory, math.floor(lat / cell_deg), math.floor(lon / cell_deg))


def cells_around(territory: str, lat: float, lon: float, radius_km: float,
                 cell_deg: float = CELL_DEG) -> Iterator[Cell]:
    dlat = radius_km / 111.0
    dlon = radius_km / (111.0 * max(math.cos(math.radians(lat)), 0.05))
    for i in range(math.floor((lat - dlat) / cell_deg), math.floor((lat + dlat) / cell_deg) + 1):
        for j in range(math.floor((lon - dlon) / cell_deg), math.floor((lon + dlon) / cell_deg) + 1):
            yield (territory, i, j)


def cells_by_distance(territory: str, lat: float, lon: float, radius_km: float,
                      occupied: set[Cell] | frozenset[Cell]) -> list[tuple[float, Cell]]:
    """The occupied cells within ``radius_km``, nearest first, each with its minimum distance (km)."""
    out = []
    kx = 111.32 * math.cos(math.radians(lat))
    for cell in cells_around(territory, lat, lon, radius_km):
        if cell not in occupied:
            continue
        _, i, j = cell
        clat = min(max(lat, i * CELL_DEG), (i + 1) * CELL_DEG)
        clon = min(max(lon, j * CELL_DEG), (j + 1) * CELL_DEG)
        d = math.hypot((clat - lat) * 110.57, (clon - lon) * kx)
        if d <= radius_km:
            out.append((d, cell))
    out.sort()
    return out


class CatalogReadModel:
    def __init__(self, snapshot: CatalogSnapshot) -> None:
        self.version = snapshot.version
        self.generated_at = snapshot.generated_at
        self.academie_fallbacks = dict(snapshot.academie_fallbacks)
        self.rome_labels = dict(snapshot.rome_labels)
        self.naf_romes = {k: list(v) for k, v in snapshot.naf_division_romes.items()}
        self.formation_labels: dict[str, str] = {}
        self.formation_diplomas: dict[str, str] = {}
        self.formation_specificity: dict[str, float] = {}
        self.lycees: dict[str, LyceeView] = {}
        self.unlocated: set[str] = set()
        self.wanted_cache: dict = {}  # (jobs, naf) -> resolved ROME/CFD sets, read-only once built
        self._build_lycees(snapshot)
        self._build_formations(snapshot)
        self._build_titles(snapshot)
        self._build_grids()

    # -- building --------------------------------------------------------------
    def _build_lycees(self, snapshot: CatalogSnapshot) -> None:
        interned: dict[tuple, dict[str, frozenset[str]]] = {}  # a SEP shares its parent's offer: one dict
        for ly in snapshot.lycees:
            if ly.latitude is None or ly.longitude is None:
                self.unlocated.add(ly.uai)
                continue
            key = tuple((o.cfd, tuple(o.tracks)) for o in ly.offers)
            offers = interned.get(key)
            if offers is None:
                offers = interned[key] = {cfd: frozenset(tracks) for cfd, tracks in key}
            self.lycees[ly.uai] = LyceeView(
                uai=ly.uai, name=ly.name, family=ly.parent_uai or ly.uai, type_court=ly.type_court,
                territory=ly.territory, academie=ly.academie, commune=ly.commune,
                latitude=ly.latitude, longitude=ly.longitude,
                offers=offers,
                apprenticeship_capable=ly.apprenticeship_capable, services=frozenset(ly.services),
                monthly_capacity=ly.monthly_capacity, rbe_id=(ly.rbe_id or ly.rbe_email or f"uai:{ly.uai}").lower(), rbe_email=ly.rbe_email,
                rbe_name=ly.rbe_name, is_generic_contact=ly.is_generic_contact, deputy_email=ly.deputy_email,
                absent_from=ly.absent_from, absent_until=ly.absent_until,
            )

    def _build_formations(self, snapshot: CatalogSnapshot) -> None:
        direct: dict[str, set[str]] = defaultdict(set)
        successors: dict[str, list[str]] = {}
        predecessors: dict[str, list[str]] = defaultdict(list)
        for f in snapshot.formations:
            self.formation_labels[f.cfd] = f.label
            self.formation_diplomas[f.cfd] = f.diploma
            # A diploma training for one or two jobs is a surer match than a broad one (five ROME codes).
            n = len(f.rome_codes)
            self.formation_specificity[f.cfd] = 1.0 if n <= 2 else (0.85 if n <= 4 else 0.7)
            successors[f.cfd] = list(f.successor_cfds)
            for s in f.successor_cfds:
                predecessors[s].append(f.cfd)
            for rome in f.rome_codes:
                direct[rome].add(f.cfd)
        self.rome_cfds: dict[str, frozenset[str]] = {}
        for rome, cfds in direct.items():
            closed = set(cfds)
            frontier = list(cfds)
            for _ in range(3):  # successor chains are short; bounded walk both ways
                nxt = []
                for cfd in frontier:
                    for other in (*successors.get(cfd, ()), *predecessors.get(cfd, ())):
                        if other not in closed:
                            closed.add(other)
                            nxt.append(other)
                frontier = nxt
            self.rome_cfds[rome] = frozenset(closed)

    def _build_titles(self, snapshot: CatalogSnapshot) -> None:
        titles: dict[str, set[str]] = defaultdict(set)
        for rome, label in snapshot.rome_labels.items():
            self._add_title(titles, label, rome)
        for jt in snapshot.job_titles:
            self._add_title(titles, jt.label, jt.rome)
        self.titles = {k: frozenset(v) for k, v in titles.items()}
        words: dict[str, set[str]] = defaultdict(set)
        heads: dict[str, Counter[str]] = defaultdict(Counter)
        rome_titles: dict[str, list[list[str]]] = defaultdict(list)
        for title, romes in self.titles.items():
            split = title.split()
            for w in split:
                if len(w) > 2 and w not in STOPWORDS:
                    words[w] |= romes
            for rome in romes:
                heads[split[0]][rome] += 1
                rome_titles[rome].append(split)
        self.heads = dict(heads)
        self.rome_titles = dict(rome_titles)
        self.sorted_heads = sorted(self.heads)
        self.words = {k: frozenset(v) for k, v in words.items()}
        self.sorted_words = sorted(self.words)

    @staticmethod
    def _add_title(titles: dict[str, set[str]], label: str, rome: str) -> None:
        """Index 'Électricien / Électricienne de maintenance' under the full label and both genders:
        'electricien de maintenance' and 'electricienne de maintenance'."""
        full = fold(label)
        if not full:
            return
        titles[full].add(rome)
        parts = [p.split() for p in label.split(" / ")]
        if len(parts) == 2 and parts[0] and len(parts[1]) >= len(parts[0]):
            tail = parts[1][len(parts[0]):]
            for form in (parts[0] + tail, parts[1]):
                titles[fold(" ".join(form))].add(rome)
        elif len(parts) != 2:
            for part in label.split("/"):
                if fold(part):
                    titles[fold(part)].add(rome)

    def _build_grids(self) -> None:
        grid: dict[Cell, list[LyceeView]] = defaultdict(list)
        service_grid: dict[Cell, list[LyceeView]] = defaultdict(list)
        cfd_grid: dict[str, dict[Cell, list[LyceeView]]] = defaultdict(lambda: defaultdict(list))
        for ly in self.lycees.values():
            cell = _cell(ly.territory, ly.latitude, ly.longitude)
            grid[cell].append(ly)
            if ly.services:
                service_grid[cell].append(ly)
            for cfd in ly.offers:
                cfd_grid[cfd][cell].append(ly)
        self.grid = dict(grid)
        self.service_grid = dict(service_grid)
        self.occupied_cells = frozenset(self.grid)
        self.declared_services = frozenset(s for ly in self.lycees.values() for s in ly.services)
        self.cfd_grid = {cfd: dict(cells) for cfd, cells in cfd_grid.items()}

    # -- queries -----------------------------------------------------------------
    def resolve_job(self, text: str) -> frozenset[str]:
        """ROME codes for a job as a company writes it: a ROME code, a known title, or free text."""
        raw = text.strip()
        if ROME_CODE.match(raw.upper()):
            return frozenset({raw.upper()})
        folded = fold(raw)
        if folded in self.titles:
            return self.titles[folded]
        tokens = [t for t in folded.replace("/", " ").split() if len(t) > 2 and t not in STOPWORDS]
        if len(tokens) == 1 and tokens[0].endswith("erie") and len(tokens[0]) > 7:
            trade = self._trade_of_place(tokens[0][:-4])  # "boulangerie" -> the "boulang…" trade
            if trade:
                return trade
        result: set[str] | None = None
        for token in tokens:
            romes = self._word_romes(token)
            if not romes and len(token) > 6:
                romes = self._word_romes(token[:6])  # "boulangerie" -> "boulan…"
            if not romes:
                continue
            result = set(romes) if result is None else (result & romes or result)
        if result and len(result) > 3 and len(tokens) > 1:
            # Several words, too broad ("technicien de maintenance"): the ROME codes with the most titles
            # holding every word (as a word prefix), shortest title first.
            ranked = sorted((r for r in result if self._titles_with_all(r, tokens)),
                            key=lambda r: (-self._titles_with_all(r, tokens), self._shortest_title(r, tokens), r))
            result = set(ranked[:3]) or result
        if result and len(result) > 3 and tokens:
            # One word, too broad ("électricien"): the ROME codes whose titles most often start with it.
            head = self.heads.get(tokens[0])
            if head:
                ranked = [r for r, _ in head.most_common() if r in result][:3]
                result = set(ranked) or result
        return frozenset(result or ())

    def _matching_titles(self, rome: str, tokens: list[str]) -> list[list[str]]:
        return [t for t in self.rome_titles.get(rome, ())
                if all(any(w.startswith(tok) for w in t) for tok in tokens)]

    def _titles_with_all(self, rome: str, tokens: list[str]) -> int:
        return len(self._matching_titles(rome, tokens))

    def _shortest_title(self, rome: str, tokens: list[str]) -> int:
        return min((len(t) for t in self._matching_titles(rome, tokens)), default=99)

    def _trade_of_place(self, stem: str) -> frozenset[str]:
        counts: Counter[str] = Counter()
        i = bisect_left(self.sorted_heads, stem)
        while i < len(self.sorted_heads) and self.sorted_heads[i].startswith(stem):
            counts.update(self.heads[self.sorted_heads[i]])
            i += 1
        return frozenset(r for r, _ in counts.most_common(2))

    def _word_romes(self, prefix: str) -> set[str]:
        out: set[str] = set()
        i = bisect_left(self.sorted_words, prefix)
        while i < len(self.sorted_words) and self.sorted_words[i].startswith(prefix):
            out |= self.words[self.sorted_words[i]]
            i += 1
        return out

    def cfds_for_romes(self, romes: set[str] | frozenset[str]) -> dict[str, set[str]]:
        """cfd -> the requested ROME codes it trains for."""
        out: dict[str, set[str]] = defaultdict(set)
        for rome in romes:
            for cfd in self.rome_cfds.get(rome, ()):
                out[cfd].add(rome)
        return out

    def formation_label(self, cfd: str) -> str:
        label = self.formation_labels.get(cfd, cfd)
        diploma = self.formation_diplomas.get(cfd)
        return f"{diploma} {label}" if diploma and not label.upper().startswith(diploma.upper()) else label
