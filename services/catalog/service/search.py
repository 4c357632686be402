"""In-memory search index over the read model: job autocomplete and lycée search.

Built once per data load (a few seconds; RBE edits only swap the directory part) so that a search is dictionary look-ups,
set intersections and a few thousand distance computations.
"""

from __future__ import annotations

import copy
import heapq
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date

from services.catalog.service.profile import words_of
from services.catalog.service.profile_rank import words_fit
from services.catalog.service.readmodel import ReadModel
from services.catalog.service.textindex import PrefixIndex, tokens
from shared.reference.geo import fold, haversine_km
from shared.reference.jobs import JobResolver, JobSuggestion, Understanding
from shared.reference.jobs.wanted import INFERRED_OFFER, offer_relevance, resolve_wanted
from shared.reference.periods import parse_period


@dataclass
class LyceeHit:
    uai: str
    uais: list[str]
    relevance: float
    distance_km: float | None
    cfds: list[str] = field(default_factory=list)
    highlights: list[str] = field(default_factory=list)  # the RBE's words that moved it up


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
    period: str | None = None  # the company's dates, in French (« mars », « du 2 au 27 mars »)
    today: date | None = None


class SearchIndex:
    def __init__(self, model: ReadModel) -> None:
        self.model = model
        located = {u for u, lyc in model.lycees.items() if lyc.latitude is not None and lyc.longitude is not None}
        self.resolver = JobResolver(model.vocabulary, Counter(c for u in located for c in model.offers.get(u, {})))
        self.formation_cfds = list(model.formations)
        self.formation_index = PrefixIndex([model.formations[c].label + " " + model.formations[c].label_long
                                            for c in self.formation_cfds])
        self.keyword_cfds: dict[str, set[str]] = defaultdict(set)
        for cfd, words in model.keywords.items():
            for word, score in words:
                if score >= 0.2:
                    for t in tokens(word):
                        self.keyword_cfds[t].add(cfd)
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
        self._index_words()

    def _index_words(self) -> None:
        """The RBE's own words (pitch, platforms, labels, events…), searched as free text."""
        today = date.today()
        uais = sorted(set(self.model.settings) | set(self.model.extras))
        texts = [words_of(self.model.settings.get(u), self.model.extras.get(u), today) for u in uais]
        self.words_uais = [u for u, t in zip(uais, texts, strict=True) if t]
        self.words_index = PrefixIndex([t for t in texts if t])

    def with_model(self, model: ReadModel) -> SearchIndex:
        """Same text indexes (reference data unchanged), new directory data (settings, contacts, the RBE's words)."""
        clone = copy.copy(self)
        clone.model = model
        clone._index_words()
        return clone

    # ------------------------------------------------------------ jobs
    def suggest_jobs(self, text: str, limit: int = 10) -> list[JobSuggestion]:
        return self.resolver.suggest(text, limit)

    def understand_job(self, text: str, naf_division: str | None = None) -> Understanding:
        return self.resolver.understand(text.strip(), naf_division)

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
        relevance: dict[str, float] = defaultdict(float)
        matched_cfds: dict[str, dict[str, float]] = defaultdict(dict)

        def restrict_by_cfds(cfd_scores: dict[str, int], weight: int = 1) -> set[str]:
            found: dict[str, float] = {}
            for cfd, score in cfd_scores.items():
                for uai in self.cfd_uais.get(cfd, ()):
                    if q.track and q.track not in model.offers[uai][cfd].tracks:
                        continue
                    per_uai = matched_cfds[uai]
                    if score > per_uai.get(cfd, 0):
                        per_uai[cfd] = score
                    if score * weight > found.get(uai, 0):
                        found[uai] = score * weight
            for uai, gained in found.items():
                relevance[uai] += gained
            return set(found)

        # The place first: scoring a job's relevance is the costly part, and only the lycées within
        # reach need it.
        distances = self._within(q, candidates) if q.origin is not None else {}
        if q.origin is not None:
            candidates &= set(distances)
        if q.job or q.naf_division:
            candidates &= self._restrict_by_wanted(q, relevance, matched_cfds, candidates)
        if q.text:
            by_name = {self.lycee_uais[d]: s for d, s in self.lycee_index.search(tokens(q.text)).items()}
            by_formation = restrict_by_cfds(self.cfds_for_text(q.text))
            by_words = {self.words_uais[d]: s for d, s in self.words_index.search(tokens(q.text)).items()}
            for uai, score in by_name.items():
                relevance[uai] += 2 * score
            for uai, score in by_words.items():
                relevance[uai] += score
            candidates &= set(by_name) | by_formation | set(by_words)
        if q.academie:
            wanted = fold(q.academie)
            candidates = {u for u in candidates if points[u].academie == wanted}
        if q.track:
            candidates = {u for u in candidates if q.track in points[u].tracks}
        if q.need:
            candidates = {u for u in candidates if self._welcomes(u, q.need)}
        return self._group(candidates, relevance, distances, matched_cfds, limit, q)

    def _within(self, q: SearchQuery, candidates: set[str]) -> dict[str, float]:
        """uai -> distance (km) for the candidates within the query's radius, in its territory."""
        assert q.origin is not None
        lat, lon = q.origin
        radius = q.radius_km
        dlat = radius / 110.0 if radius is not None else 1e9
        dlon = radius / max(1.0, 111.3 * math.cos(math.radians(lat))) if radius is not None else 1e9
        distances: dict[str, float] = {}
        for uai in candidates:
            p = self.points[uai]
            if p.latitude is None or p.longitude is None or p.territory != q.origin_territory:
                continue
            if abs(p.latitude - lat) > dlat or abs(p.longitude - lon) > dlon:
                continue
            d = haversine_km(lat, lon, p.latitude, p.longitude)
            if radius is None or d <= radius:
                distances[uai] = d
        return distances

    def _restrict_by_wanted(self, q: SearchQuery, relevance: dict[str, float],
                            matched_cfds: dict[str, dict[str, float]], among: set[str]) -> set[str]:
        """Lycées teaching what the job (or the sector) means, scored as routing scores them."""
        wanted = resolve_wanted(self.resolver, [q.job] if q.job else [], q.naf_division)
        model = self.model
        found: set[str] = set()
        reachable = {u for c in wanted.cfd_weights for u in self.cfd_uais.get(c, ())} & among
        for first_year in (False, True):
            for uai in reachable:
                offers = model.offers[uai]

                def fit(cfd: str, offers=offers, first_year=first_year) -> float:
                    offer = offers[cfd]
                    if q.track and q.track not in offer.tracks:
                        return 0.0
                    if offer.derived_from == "famille":  # only known through its "2nde commune": like one
                        return INFERRED_OFFER if first_year else 0.0
                    return 1.0

                score, cfds = offer_relevance(wanted, offers, first_year=first_year, factor=fit)
                if score > 0:
                    found.add(uai)
                    relevance[uai] = round(score, 3)
                    matched_cfds[uai] = {c: wanted.cfd_weights[c] for c in cfds}
            if found:
                break  # a "2nde commune" counts only where no lycée teaches the trade itself
        return found

    def _welcomes(self, uai: str, need: str) -> bool:
        if need == "apprentissage" and "apprentissage" not in self.points[uai].tracks:
            return False
        settings = self.model.settings.get(uai)
        if settings is None or not settings.services:
            return True
        return need in settings.services.split(";")

    def _group(self, candidates: set[str], relevance: dict[str, float], distances: dict[str, float],
               matched: dict[str, dict[str, float]], limit: int | None, q: SearchQuery) -> tuple[int, list[LyceeHit]]:
        """One hit per lycée: a SEP and its mother lycée share one result."""
        groups: dict[str, list[str]] = defaultdict(list)
        for uai in candidates:
            groups[self.group_of[uai]].append(uai)
        today = q.today or date.today()
        period = parse_period(q.period)
        model = self.model
        keyed = []
        for head, members in groups.items():
            known = [distances[u] for u in members if u in distances]
            distance = min(known) if known else None
            score = max(relevance.get(u, 0) for u in members)
            fit = words_fit(model.settings.get(head), model.extras.get(head), q.need, period, today)
            # Relevance by steps of 0.1, then distance: routing weighs a tenth of relevance like a few km.
            # The RBE's words (services, PFMP periods, events, capacity) move a lycée by up to a step or two.
            keyed.append(((-(round(score, 1) + round(fit.bonus, 2)), distance if distance is not None else 1e9,
                           self.points[head].name), head, score, distance, fit.highlights))
        best = heapq.nsmallest(limit, keyed) if limit is not None else sorted(keyed)
        hits: list[LyceeHit] = []
        for _, head, score, distance, highlights in best:
            members = sorted(groups[head], key=lambda u: (u != head, u))
            cfds: dict[str, float] = {}
            for u in members:
                for cfd, s in matched.get(u, {}).items():
                    cfds[cfd] = max(cfds.get(cfd, 0), s)
            hits.append(LyceeHit(uai=members[0], uais=members, relevance=score,
                                 distance_km=round(distance, 2) if distance is not None else None,
                                 cfds=sorted(cfds, key=lambda c: (-cfds[c], c)), highlights=highlights))
        return len(groups), hits
