"""Coverage report: per académie, the jobs with no lycée within reach and the places where several
lycées overlap for the same jobs (where deduplication and coordination matter).

Places are the communes of an académie grouped into 0.5° cells, each
represented by its communes' centroid; a job is "taught" by a lycée offering one of its formations
(any track, successor diplomas included).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from services.matcher.service.readmodel import CatalogReadModel, cells_around
from shared.reference.geo import CommuneIndex, haversine_km, territory_of

PLACE_DEG = 0.5  # a place = the communes of an académie within one 0.5° cell (~55 x 40 km)


@dataclass(slots=True)
class Place:
    academie: str
    territory: str
    label: str  # the commune nearest the centroid
    latitude: float
    longitude: float


@dataclass(slots=True)
class AcademieCoverage:
    academie: str
    places: int
    # rome, label, zones uncovered, lycées teaching it nationwide, example zones
    gaps: list[tuple[str, str, int, int, list[str]]] = field(default_factory=list)
    overlaps: list[tuple[str, int, int, str]] = field(default_factory=list)  # place, jobs, max lycées, example


def places_of(communes: CommuneIndex) -> list[Place]:
    groups: dict[tuple[str, str, int, int], list] = defaultdict(list)
    for c in communes.communes:
        t = communes.territoire(c.departement)
        if c.latitude is None or c.longitude is None or t is None:
            continue
        key = (t.academie, territory_of(c.departement), int(c.latitude // PLACE_DEG), int(c.longitude // PLACE_DEG))
        groups[key].append(c)
    places = []
    for (academie, territory, _, _), members in sorted(groups.items()):
        lat = sum(m.latitude for m in members) / len(members)
        lon = sum(m.longitude for m in members) / len(members)
        nearest = min(members, key=lambda m: (m.latitude - lat) ** 2 + (m.longitude - lon) ** 2)
        places.append(Place(academie, territory, nearest.label, lat, lon))
    return places


def coverage(model: CatalogReadModel, communes: CommuneIndex, *, reach_km: float = 60.0,
             overlap_km: float = 30.0, k: int = 3) -> list[AcademieCoverage]:
    places = places_of(communes)
    grid: dict[tuple[str, int, int], list[int]] = defaultdict(list)
    for i, p in enumerate(places):
        grid[(p.territory, int(p.latitude // PLACE_DEG), int(p.longitude // PLACE_DEG))].append(i)
    taught: dict[str, set[str]] = defaultdict(set)  # rome -> uais
    for rome in model.resolver.rome_labels:
        # Formations that really train for the job (the resolver's links, weak and first-year ones left out).
        for cfd in (c for c, link in model.resolver.links.for_rome(rome).items()
                    if link.weight >= 0.5 and not link.common_first_year):
            for cell_lycees in model.cfd_grid.get(cfd, {}).values():
                taught[rome].update(ly.uai for ly in cell_lycees)
    covered: dict[str, set[int]] = {}
    crowded: dict[int, dict[str, set[str]]] = defaultdict(dict)  # place -> rome -> families within overlap_km
    for rome, uais in taught.items():
        reach: set[int] = set()
        for uai in uais:
            ly = model.lycees[uai]
            for cell in cells_around(ly.territory, ly.latitude, ly.longitude, reach_km, PLACE_DEG):
                for i in grid.get(cell, ()):
                    p = places[i]
                    d = haversine_km(ly.latitude, ly.longitude, p.latitude, p.longitude)
                    if d <= reach_km:
                        reach.add(i)
                        if d <= overlap_km:
                            crowded[i].setdefault(rome, set()).add(ly.family)
        covered[rome] = reach
    by_academie: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(places):
        by_academie[p.academie].append(i)
    report = []
    for academie, idx in sorted(by_academie.items()):
        entry = AcademieCoverage(academie, len(idx))
        for rome in sorted(taught):
            missing = [i for i in idx if i not in covered[rome]]
            if missing:
                entry.gaps.append((rome, model.rome_labels.get(rome, rome), len(missing), len(taught[rome]),
                                   [places[i].label for i in missing[:3]]))
        # Widest gaps first; among them, jobs taught widely elsewhere (a real gap, not a rare trade).
        entry.gaps.sort(key=lambda g: (-g[2], -g[3], g[0]))
        for i in idx:
            busy = {rome: fams for rome, fams in crowded.get(i, {}).items() if len(fams) > k}
            if busy:
                top = max(busy, key=lambda r: len(busy[r]))
                entry.overlaps.append((places[i].label, len(busy), len(busy[top]), model.rome_labels.get(top, top)))
        entry.overlaps.sort(key=lambda o: (-o[1], -o[2], o[0]))
        report.append(entry)
    return report
