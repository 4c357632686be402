"""In-memory read model of the catalog, built from a ``CatalogSnapshot``.

Indexes (all built once per snapshot, then read-only, so a swap is atomic):
* the job resolver (``shared.reference.jobs``), built from the vocabulary the catalog ships: text -> jobs -> formations;
* CFD -> spatial grid cells -> lycées teaching it; and one grid for every lycée;
the grid is keyed by territory so nothing is ever found across the sea.
"""

from __future__ import annotations

import math
import sys
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from shared.contracts.catalog_snapshot import CatalogSnapshot, SnapshotPfmpPeriod
from shared.reference.jobs import JobResolver
from shared.reference.periods import Period

CELL_DEG = 0.1  # ~11 x 8 km: fine enough for the nearest-first search to stop early in dense cities

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
    inferred: frozenset[str]  # specialities inferred from the lycée's "2nde commune" (not listed)
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
    # The RBE's words (issue 22): (class, cfd or None, period) and (kind, title, starts_on, ends_on)
    pfmp_periods: tuple[tuple[str, str | None, Period], ...] = ()
    events: tuple[tuple[str, str, date, date | None], ...] = ()
    # The lycée's other confirmed RBEs (email, name), copied in the thread of each request routed to it (issue 22)
    additional_rbes: tuple[tuple[str, str | None], ...] = ()

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


class OccupiedCells:
    """The grid's occupied cells, by row: (territory, i) -> the row's occupied columns j, ascending.

    A search at 150 km spans about a thousand cells of which a few dozen hold a lycée: walking the
    rows' occupied columns within the box, rather than testing every cell of the box, finds the same
    cells for a fraction of the cost."""

    __slots__ = ("rows",)

    def __init__(self, cells: Iterable[Cell]) -> None:
        rows: dict[tuple[str, int], list[int]] = defaultdict(list)
        for territory, i, j in cells:
            rows[(territory, i)].append(j)
        self.rows = {row: tuple(sorted(js)) for row, js in rows.items()}

    def __contains__(self, cell: object) -> bool:
        if not isinstance(cell, tuple) or len(cell) != 3:
            return False
        territory, i, j = cell
        js = self.rows.get((territory, i), ())
        k = bisect_left(js, j)
        return k < len(js) and js[k] == j

    def in_box(self, territory: str, lat: float, lon: float, radius_km: float,
               cell_deg: float = CELL_DEG) -> Iterator[Cell]:
        """The occupied cells among ``cells_around(territory, lat, lon, radius_km, cell_deg)``, in its order."""
        dlat = radius_km / 111.0
        dlon = radius_km / (111.0 * max(math.cos(math.radians(lat)), 0.05))
        j_first = math.floor((lon - dlon) / cell_deg)
        j_last = math.floor((lon + dlon) / cell_deg)
        for i in range(math.floor((lat - dlat) / cell_deg), math.floor((lat + dlat) / cell_deg) + 1):
            js = self.rows.get((territory, i))
            if js:
                for j in js[bisect_left(js, j_first):bisect_right(js, j_last)]:
                    yield (territory, i, j)


def cells_by_distance(territory: str, lat: float, lon: float, radius_km: float,
                      occupied: OccupiedCells | set[Cell] | frozenset[Cell]) -> list[tuple[float, Cell]]:
    """The occupied cells within ``radius_km``, nearest first, each with its minimum distance (km)."""
    out = []
    kx = 111.32 * math.cos(math.radians(lat))
    if isinstance(occupied, OccupiedCells):
        cells: Iterable[Cell] = occupied.in_box(territory, lat, lon, radius_km)
    else:
        cells = (cell for cell in cells_around(territory, lat, lon, radius_km) if cell in occupied)
    for cell in cells:
        _, i, j = cell
        clat = min(max(lat, i * CELL_DEG), (i + 1) * CELL_DEG)
        clon = min(max(lon, j * CELL_DEG), (j + 1) * CELL_DEG)
        d = math.hypot((clat - lat) * 110.57, (clon - lon) * kx)
        if d <= radius_km:
            out.append((d, cell))
    out.sort()
    return out


def _periods(rows: list[SnapshotPfmpPeriod]) -> tuple[tuple[str, str | None, Period], ...]:
    out = []
    for row in rows:
        period = Period.from_code(row.ranges)
        if period is not None:
            out.append((row.classe, row.cfd, period))
    return tuple(out)


class CatalogReadModel:
    def __init__(self, snapshot: CatalogSnapshot) -> None:
        self.version = snapshot.version
        self.generated_at = snapshot.generated_at
        self.academie_fallbacks = dict(snapshot.academie_fallbacks)
        self.rome_labels = dict(snapshot.rome_labels)
        self.formation_labels: dict[str, str] = {}
        self.formation_diplomas: dict[str, str] = {}
        self.lycees: dict[str, LyceeView] = {}
        self.unlocated: set[str] = set()
        self.wanted_cache: dict = {}  # (jobs, naf) -> Wanted, read-only once built
        self._build_lycees(snapshot)
        self._build_formations(snapshot)
        self.rome_labels.update(self.resolver.rome_labels)
        self._build_grids()

    # -- building --------------------------------------------------------------
    def _build_lycees(self, snapshot: CatalogSnapshot) -> None:
        interned: dict[tuple, dict[str, frozenset[str]]] = {}  # a SEP shares its parent's offer: one dict
        inferred_of: dict[int, frozenset[str]] = {}
        # Three distinct sets of tracks across 39k offers: one object each (-8 MiB of frozensets).
        track_sets: dict[tuple[str, ...], frozenset[str]] = {}
        service_sets: dict[frozenset[str], frozenset[str]] = {}  # likewise: most lycées declare none or the same few
        for ly in snapshot.lycees:
            if ly.latitude is None or ly.longitude is None:
                self.unlocated.add(ly.uai)
                continue
            # Codes and names that repeat across lycées: one string object each (the snapshot's parser no
            # longer shares them, see CatalogSnapshot.model_config).
            key = tuple((sys.intern(o.cfd), tuple(o.tracks), o.derived_from == "famille") for o in ly.offers)
            offers = interned.get(key)
            if offers is None:
                offers = interned[key] = {cfd: track_sets.setdefault(tracks, frozenset(tracks)) for cfd, tracks, _ in key}
                inferred_of[id(offers)] = frozenset(cfd for cfd, _, famille in key if famille)
            self.lycees[ly.uai] = LyceeView(
                uai=ly.uai, name=ly.name, family=ly.parent_uai or ly.uai, type_court=sys.intern(ly.type_court),
                territory=sys.intern(ly.territory), academie=sys.intern(ly.academie), commune=sys.intern(ly.commune),
                latitude=ly.latitude, longitude=ly.longitude,
                offers=offers, inferred=inferred_of[id(offers)],
                apprenticeship_capable=ly.apprenticeship_capable,
                services=service_sets.setdefault(frozenset(ly.services), frozenset(ly.services)),
                monthly_capacity=ly.monthly_capacity, rbe_id=(ly.rbe_id or ly.rbe_email or f"uai:{ly.uai}").lower(), rbe_email=ly.rbe_email,
                rbe_name=ly.rbe_name, is_generic_contact=ly.is_generic_contact, deputy_email=ly.deputy_email,
                absent_from=ly.absent_from, absent_until=ly.absent_until,
                pfmp_periods=_periods(ly.pfmp_periods),
                events=tuple((e.kind, e.title, e.starts_on, e.ends_on) for e in ly.events),
                additional_rbes=tuple((r.email, r.name) for r in ly.additional_rbes),
            )

    def _build_formations(self, snapshot: CatalogSnapshot) -> None:
        for f in snapshot.formations:
            self.formation_labels[f.cfd] = f.label
            self.formation_diplomas[f.cfd] = f.diploma
        vocabulary = snapshot.job_vocabulary()
        taught = Counter(cfd for ly in self.lycees.values() for cfd in ly.offers)
        self.resolver = JobResolver(vocabulary, taught)

    def _build_grids(self) -> None:
        grid: dict[Cell, list[LyceeView]] = defaultdict(list)
        service_grid: dict[Cell, list[LyceeView]] = defaultdict(list)
        cfd_grid: dict[str, dict[Cell, list[LyceeView]]] = defaultdict(lambda: defaultdict(list))
        cells: dict[Cell, Cell] = {}  # one tuple per cell, the key of every grid that has it
        for ly in self.lycees.values():
            cell = _cell(ly.territory, ly.latitude, ly.longitude)
            cell = cells.setdefault(cell, cell)
            grid[cell].append(ly)
            if ly.services:
                service_grid[cell].append(ly)
            for cfd in ly.offers:
                cfd_grid[cfd][cell].append(ly)
        # Tuples, not the lists they were built in: 60,000 (cfd, cell) entries, read-only from now on (-2 MiB).
        self.grid = {cell: tuple(lys) for cell, lys in grid.items()}
        self.service_grid = {cell: tuple(lys) for cell, lys in service_grid.items()}
        self.occupied_cells = OccupiedCells(self.grid)
        self.declared_services = frozenset(s for ly in self.lycees.values() for s in ly.services)
        self.cfd_grid = {cfd: {cell: tuple(lys) for cell, lys in by_cell.items()} for cfd, by_cell in cfd_grid.items()}

    # -- queries -----------------------------------------------------------------
    def formation_label(self, cfd: str) -> str:
        label = self.formation_labels.get(cfd, cfd)
        diploma = self.formation_diplomas.get(cfd)
        return f"{diploma} {label}" if diploma and not label.upper().startswith(diploma.upper()) else label
