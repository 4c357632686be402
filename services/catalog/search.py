"""In-memory search index over the read model: job autocomplete and lycée search.

Built once per data load (a few seconds; RBE edits only swap the directory part) so that a search is dictionary look-ups,
set intersections and a few thousand distance computations.
"""

from __future__ import annotations

import copy
import heapq
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field

from services.catalog.readmodel import ReadModel
from services.catalog.textindex import PrefixIndex, tokens
from shared.geo import fold, haversine_km

ROME_CODE = re.compile(r"^[A-Na-n]\d{4}$")


@dataclass
class JobMatch:
    label: str
    rome: str
    rome_label: str
    source: str
    score: int


@dataclass
class LyceeHit:
    uai: str
    uais: list[str]
    relevance: int
    distance_km: float | None
    cfds: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LyceePoint:
    """Plain copy of what filtering needs (ORM attribute access is too slow for thousands of rows)."""

    name: str
    latitude: float | None
    longitude: float | None
    territory: str
    academie: str  # folded
    tracks: frozenset[str]


@dataclass
class SearchQuery:
    job: str | None = None
    text: str | None = None
    naf_division: str | None = None
    origin: tuple[float, float] | None = None
    origin_territory: str | None = None
    radius_km: float | None = None
    academie: str | None = None
    need: str | None = None
    track: str | None = None


class SearchIndex:
    def __init__(self, model: ReadModel) -> None:
        self.model = model
        titles = [(t.label, t.rome, t.source) for t in model.job_titles]
        titles += [(j.label, j.rome, "rome") for j in model.jobs.values()]
        self.titles = titles
        self.title_index = PrefixIndex([t[0] for t in titles])
        self.folded_titles = [fold(t[0]) for t in titles]
        self.formation_cfds = list(model.formations)
        self.formation_index = PrefixIndex([model.formations[c].label + " " + model.formations[c].label_long
                                            for c in self.formation_cfds])
        self.keyword_cfds: dict[str, set[str]] = defaultdict(set)
        for cfd, words in model.keywords.items():
            for word, score in words:
                if score >= 0.2:
                    for t in tokens(word):
                        self.keyword_cfds[t].add(cfd)
        self.rome_cfds: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for cfd, romes in model.formation_romes.items():
            for rank, rome in enumerate(romes, start=1):
                self.rome_cfds[rome].append((cfd, rank))
        self.cfd_uais: dict[str, set[str]] = defaultdict(set)
        for uai, offers in model.offers.items():
            for cfd in offers:
                self.cfd_uais[cfd].add(uai)
        self.lycee_uais = list(model.lycees)
        self.lycee_index = PrefixIndex([f"{lyc.name} {lyc.commune}" for lyc in model.lycees.values()])
        self.searchable = {u for u, lyc in model.lycees.items() if lyc.vocational_core or model.offers.get(u)}
        self.points = {
            u: LyceePoint(
                name=lyc.name, latitude=lyc.latitude if lyc.longitude is not None else None, longitude=lyc.longitude,
                territory=lyc.territory, academie=fold(lyc.academie),
                tracks=frozenset({t for o in model.offers.get(u, {}).values() for t in o.tracks}
                                 | ({"apprentissage"} if lyc.apprentissage else set())),
            )
            for u, lyc in model.lycees.items()
        }
        self.group_of = {
            u: (lyc.parent_uai if lyc.type_court == "SEP" and lyc.parent_uai in model.lycees else u)
            for u, lyc in model.lycees.items()
        }

    def with_model(self, model: ReadModel) -> SearchIndex:
        """Same text indexes (reference data unchanged), new directory data (settings, contacts)."""
        clone = copy.copy(self)
        clone.model = model
        return clone

    # ------------------------------------------------------------ jobs
    def suggest_jobs(self, text: str, limit: int = 10) -> list[JobMatch]:
        query = tokens(text)
        if not query:
            return []
        folded = fold(text)
        hits = self.title_index.search(query)
        ranked = sorted(
            hits.items(),
            key=lambda kv: (-(kv[1] + (2 if self.folded_titles[kv[0]].startswith(folded) else 0)),
                            len(self.titles[kv[0]][0]), self.titles[kv[0]][0]),
        )
        out: list[JobMatch] = []
        seen: set[str] = set()
        for doc_id, score in ranked:
            label, rome, source = self.titles[doc_id]
            key = fold(label)
            if key in seen:
                continue
            seen.add(key)
            job = self.model.jobs.get(rome)
            out.append(JobMatch(label, rome, job.label if job else "", source, score))
            if len(out) >= limit:
                break
        return out

    def romes_for_job(self, text: str) -> dict[str, int]:
        """ROME code -> weight (2 strong, 1 weak) for a job typed by a company, or a ROME code."""
        text = text.strip()
        if ROME_CODE.match(text):
            return {text.upper(): 2}
        weights: dict[str, int] = {}
        for doc_id, score in self.title_index.search(tokens(text)).items():
            rome = self.titles[doc_id][1]
            weights[rome] = max(weights.get(rome, 0), score)
        return weights

    def cfds_for_job(self, text: str) -> dict[str, int]:
        """Formation -> relevance 1..4 for a job: 4 when the formation is named after the job, else through its
        ROME codes (3 = the job's main ROME fiche is the formation's first one)."""
        scores: dict[str, int] = {}
        for rome, weight in self.romes_for_job(text).items():
            for cfd, rank in self.rome_cfds.get(rome, ()):
                scores[cfd] = max(scores.get(cfd, 0), weight + (1 if rank == 1 else 0))
        if not ROME_CODE.match(text.strip()):
            for doc_id, score in self.formation_index.search(tokens(text)).items():
                cfd = self.formation_cfds[doc_id]
                scores[cfd] = max(scores.get(cfd, 0), 4 if score == 2 else 2)
        return scores

    def cfds_for_text(self, text: str) -> dict[str, int]:
        query = tokens(text)
        scores = {self.formation_cfds[d]: s for d, s in self.formation_index.search(query).items()}
        if query:
            sets = [self.keyword_cfds.get(t, set()) for t in query]
            for cfd in set.intersection(*sets):
                scores[cfd] = max(scores.get(cfd, 0), 1)
        return scores

    # ------------------------------------------------------------ lycées
    def search(self, q: SearchQuery, limit: int | None = None) -> tuple[int, list[LyceeHit]]:
        """(number of lycées found, the best ``limit`` hits, ranked by relevance then distance)."""
        model = self.model
        points = self.points
        candidates = set(self.searchable)
        relevance: dict[str, int] = defaultdict(int)
        matched_cfds: dict[str, dict[str, int]] = defaultdict(dict)

        def restrict_by_cfds(cfd_scores: dict[str, int], weight: int = 1) -> set[str]:
            found: dict[str, int] = {}
            for cfd, score in cfd_scores.items():
                for uai in self.cfd_uais.get(cfd, ()):
                    if q.track and q.track not in model.offers[uai][cfd].tracks:
                        continue
                    per_uai = matched_cfds[uai]
                    if score > per_uai.get(cfd, 0):
                        per_uai[cfd] = score
                    if score * weight > found.get(uai, 0):
                        found[uai] = score * weight
            for uai, score in found.items():
                relevance[uai] += score
            return set(found)

        if q.job:
            candidates &= restrict_by_cfds(self.cfds_for_job(q.job), 2)
        if q.naf_division:
            romes = {r: 1 for r in model.naf_division_romes.get(q.naf_division, [])}
            cfd_scores = {cfd: 1 for rome in romes for cfd, _ in self.rome_cfds.get(rome, ())}
            candidates &= restrict_by_cfds(cfd_scores)
        if q.text:
            by_name = {self.lycee_uais[d]: s for d, s in self.lycee_index.search(tokens(q.text)).items()}
            by_formation = restrict_by_cfds(self.cfds_for_text(q.text))
            for uai, score in by_name.items():
                relevance[uai] += 2 * score
            candidates &= set(by_name) | by_formation
        if q.academie:
            wanted = fold(q.academie)
            candidates = {u for u in candidates if points[u].academie == wanted}
        if q.track:
            candidates = {u for u in candidates if q.track in points[u].tracks}
        if q.need:
            candidates = {u for u in candidates if self._welcomes(u, q.need)}
        distances: dict[str, float] = {}
        if q.origin is not None:
            lat, lon = q.origin
            radius = q.radius_km
            dlat = radius / 110.0 if radius is not None else 1e9
            dlon = radius / max(1.0, 111.3 * math.cos(math.radians(lat))) if radius is not None else 1e9
            kept = set()
            for uai in candidates:
                p = points[uai]
                if p.latitude is None or p.territory != q.origin_territory:
                    continue
                if abs(p.latitude - lat) > dlat or abs(p.longitude - lon) > dlon:
                    continue
                d = haversine_km(lat, lon, p.latitude, p.longitude)
                if radius is None or d <= radius:
                    distances[uai] = d
                    kept.add(uai)
            candidates = kept
        return self._group(candidates, relevance, distances, matched_cfds, limit)

    def _welcomes(self, uai: str, need: str) -> bool:
        if need == "apprentissage" and "apprentissage" not in self.points[uai].tracks:
            return False
        settings = self.model.settings.get(uai)
        if settings is None or not settings.services:
            return True
        return need in settings.services.split(";")

    def _group(self, candidates: set[str], relevance: dict[str, int], distances: dict[str, float],
               matched: dict[str, dict[str, int]], limit: int | None) -> tuple[int, list[LyceeHit]]:
        """One hit per lycée: a SEP and its mother lycée share one result."""
        groups: dict[str, list[str]] = defaultdict(list)
        for uai in candidates:
            groups[self.group_of[uai]].append(uai)
        keyed = []
        for head, members in groups.items():
            known = [distances[u] for u in members if u in distances]
            distance = min(known) if known else None
            score = max(relevance.get(u, 0) for u in members)
            keyed.append(((-score, distance if distance is not None else 1e9, self.points[head].name), head, score,
                          distance))
        best = heapq.nsmallest(limit, keyed) if limit is not None else sorted(keyed)
        hits: list[LyceeHit] = []
        for _, head, score, distance in best:
            members = sorted(groups[head], key=lambda u: (u != head, u))
            cfds: dict[str, int] = {}
            for u in members:
                for cfd, s in matched.get(u, {}).items():
                    cfds[cfd] = max(cfds.get(cfd, 0), s)
            hits.append(LyceeHit(uai=members[0], uais=members, relevance=score,
                                 distance_km=round(distance, 2) if distance is not None else None,
                                 cfds=sorted(cfds, key=lambda c: (-cfds[c], c))))
        return len(groups), hits
