"""Word index over short documents (job titles, formation labels) with IDF weights.

A document matches a typed text word by word, on stems (``shared.reference.jobs.text.stem``): never by a raw
prefix, so « magasin » does not become « magasinier ». A typed word that is no stem of the index is
looked up among the index's stems with ``rapidfuzz`` (edit distance), so « electricein » still finds
« electricien ». A word of the same family (« boulangerie » / « boulanger ») counts, at a lower weight.

The score of a document for a query is the IDF-weighted share of the query it covers, times the square
root of the IDF-weighted share of the document that was matched: both « what was asked is there » and
« the title is about what was asked » matter, rare words (« boulanger ») more than common ones
(« agent »). This is BM25 with k1 → 0 and length normalisation replaced by the matched share, which is
what short titles need (see docs/job-vocabulary.md).
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz, process

from shared.reference.jobs.text import PERSON_WORDS, STOP_WORDS, masculine, stem, words

RELATED_QUALITY = 0.6  # a word of the same family: « boulangerie » for « boulanger »
TRADE_QUALITY = 0.95
COMPOUND_PREFIXES = ("agro", "bio", "electro", "thermo", "hydro", "aero", "tele")
COMPOUND_QUALITY = 0.9
CRAFT_ENDINGS = ("age", "ure", "ite", "ique")  # folded: « électricité » ends in « ite »
WORKER_ENDINGS = ("eur", "ier", "iste", "ien", "er", "tre")  # « peintre »
FUZZY_CUTOFF = 80  # rapidfuzz ratio (0..100) below which a typed word is not corrected
FUZZY_QUALITY = 0.9
FUZZY_SPREAD = 6  # « placiste »: plagiste (87) and plaquiste (82) both kept; the taught one wins


@dataclass(slots=True)
class QueryWord:
    """One typed word and the index stems it stands for (stem -> quality 0..1)."""

    typed: str
    stem: str
    matches: dict[str, float]
    known: bool  # the typed word (masculine singular) appears as such in the index
    corrections: tuple[str, ...] = ()  # indexed words it may be a typo of, closest first


def related_stems(a: str, b: str) -> bool:
    """Same family: a common prefix of 5 letters or more that covers all but 2 letters of the shorter
    stem, and the longer adds at most 5 (« peintr »/« peintur », « mecan »/« mecanicien »)."""
    p = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        p += 1
    short, long_ = sorted((len(a), len(b)))
    if a.endswith("ur") and b.endswith("ur") and p >= 4 and p >= short - 3:
        return True  # the craft and its worker: « soudure » / « soudeur », « coiffure » / « coiffeur »
    craft, worker = (a, b) if a.endswith("ag") else (b, a)
    if craft.endswith("ag") and worker.endswith("eur") and p >= len(craft) - 2 >= 4 and len(worker) - p <= 4:
        return True  # the work and its worker: « soudage » / « soudeur », « câblage » / « câbleur », « élagage »
    return p >= 5 and p >= short - 2 and long_ - p <= 5


class WordIndex:
    def __init__(self, documents: Sequence[str]) -> None:
        postings: dict[str, set[int]] = defaultdict(set)
        surface: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.doc_stems: list[tuple[str, ...]] = []
        self.known_words: set[str] = set()
        for doc_id, text in enumerate(documents):
            doc: list[str] = []
            for w in words(text):
                if w in STOP_WORDS:  # « de », « en »: in every title, they would only dilute the matched share
                    continue
                s = stem(w)
                self.known_words.add(masculine(w))
                surface[s][w] += 1
                if s not in doc:
                    doc.append(s)
                postings[s].add(doc_id)
            self.doc_stems.append(tuple(doc))
        n = max(len(documents), 1)
        # Arrays of C ints, not tuples of int objects: 40,000 document ids above the small-int cache (-1.5 MiB
        # in the matcher and in the catalog, whose resolvers index 14,000 job titles).
        self.postings = {s: array("i", sorted(ids)) for s, ids in postings.items()}
        self.idf = {s: math.log((n + 1) / (len(ids) + 0.5)) for s, ids in postings.items()}
        self.max_idf = math.log((n + 1) / 0.5)
        role = self.idf.get(stem("agent"))
        if role is not None:  # « homme » is in few titles, but it says who, not what trade (text.PERSON_WORDS)
            for s in {stem(w) for w in PERSON_WORDS} & self.idf.keys():
                self.idf[s] = min(self.idf[s], role)
        self.sorted_stems = sorted(self.postings)
        self.surface = {s: max(ws, key=lambda w: (ws[w], -len(w))) for s, ws in surface.items()}
        self.doc_weight = array("d", [sum(self.idf[s] for s in doc) or 1.0 for doc in self.doc_stems])
        self.word_list = sorted(self.known_words)
        self.word_stem = {w: stem(w) for w in self.word_list}
        self._family = lru_cache(maxsize=50_000)(self._family_uncached)
        self._fuzzy = lru_cache(maxsize=50_000)(self._fuzzy_uncached)

    # ------------------------------------------------------------------ words
    def _family_uncached(self, s: str) -> tuple[str, ...]:
        if len(s) < 4:
            return ()
        lo = bisect.bisect_left(self.sorted_stems, s[:4])
        out = []
        for other in self.sorted_stems[lo:]:
            if not other.startswith(s[:4]):
                break
            if other != s and related_stems(s, other):
                out.append(other)
        return tuple(out)

    def _fuzzy_uncached(self, word: str) -> tuple[tuple[str, float], ...]:
        """Indexed words closest to a typed word that is not one (edit distance on the masculine
        singular form): the best one and those within FUZZY_SPREAD points of it."""
        if len(word) < 4:
            return ()
        found = process.extract(word, self.word_list, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF, limit=5)
        if not found:
            return ()
        best = found[0][1]
        return tuple((w, score / 100) for w, score, _ in found if score >= best - FUZZY_SPREAD)

    def query_word(self, typed: str, *, fuzzy: bool = True) -> QueryWord:
        s = stem(typed)
        matches: dict[str, float] = {}
        if s in self.postings:
            matches[s] = 1.0
        for other in self._family(s):
            matches.setdefault(other, self._family_quality(typed, s, other))
        # « agroalimentaire »: the titles of the trade say « alimentaire » (« conducteur de ligne en industrie
        # alimentaire »); ONISEP's « agroalimentaire » alone was a technico-commercial's word.
        rest = next((typed[len(p):] for p in COMPOUND_PREFIXES if typed.startswith(p)), "")
        if len(rest) >= 4 and stem(rest) in self.postings:
            matches.setdefault(stem(rest), COMPOUND_QUALITY)
        qw = QueryWord(typed=typed, stem=s, matches=matches, known=masculine(typed) in self.known_words)
        if not qw.known and fuzzy:
            for word, ratio in self._fuzzy(masculine(typed)):
                other = self.word_stem[word]
                matches[other] = max(matches.get(other, 0.0), FUZZY_QUALITY * ratio)
                qw.corrections += (word,)
                # The corrected word's family too, as if typed right (« boulengerie »: the boulanger).
                for kin in self._family(other):
                    quality = self._family_quality(word, other, kin) * FUZZY_QUALITY * ratio
                    matches[kin] = max(matches.get(kin, 0.0), quality)
        return qw

    def _family_quality(self, typed: str, s: str, other: str) -> float:
        """« boulangerie », « menuiserie »: the place or craft of the trade, as good as its name; so are the
        craft and work of a worker (« carrelage », « soudure », « électricité », « mécanique » for « carreleur »,
        « soudeur », « électricien », « mécanicien »), not the other words of the family (« informatique » is
        not « information »), nor another worker when the craft names its own (« chauffage »: the
        « chauffagiste », not the « chauffeur »)."""
        if typed.endswith("erie"):
            return TRADE_QUALITY
        if not typed.endswith(CRAFT_ENDINGS) or typed.endswith("eure"):  # « vendeure »: a worker, mistyped
            return RELATED_QUALITY
        if not self.surface[other].endswith(WORKER_ENDINGS):
            return RELATED_QUALITY
        own_worker = any(s + ending in self.postings for ending in ("ist", "ier", "i"))
        return TRADE_QUALITY if not own_worker or other.startswith(s) else RELATED_QUALITY

    def prefix_word(self, typed_prefix: str) -> QueryWord:
        """The last word of an autocomplete query, maybe unfinished: every stem whose surface starts with it."""
        matches: dict[str, float] = {}
        s = stem(typed_prefix)
        whole = s in self.postings and masculine(typed_prefix) in self.known_words
        if whole:  # a whole word already
            matches[s] = 1.0
        lo = bisect.bisect_left(self.sorted_stems, typed_prefix[:3])
        for other in self.sorted_stems[lo:]:
            if not other.startswith(typed_prefix[:3]):
                break
            if other not in matches and self.surface[other].startswith(typed_prefix):
                matches[other] = 0.95
        if whole:  # « soudure »: the soudeur too, not only the titles holding « soudure »
            for other in self._family(s):
                matches[other] = max(matches.get(other, 0.0), self._family_quality(typed_prefix, s, other))
        return QueryWord(typed=typed_prefix, stem=s, matches=matches, known=True)

    def weight(self, qw: QueryWord) -> float:
        """IDF of a query word: its own stem's when it matched as such, else its best match's, else the rarest."""
        if qw.stem in qw.matches:
            return self.idf[qw.stem]
        if qw.matches:
            return max(self.idf[s] for s in qw.matches)
        return self.max_idf

    def ceiling(self, query: Sequence[QueryWord]) -> float:
        """The score of a title made of the best match of each typed word (``score``'s formula): 1.0 for
        a text typed right; below it when a word is a typo, whose corrections all score less than 1. A
        title the text names word for word, typos corrected, scores this."""
        query = [qw for qw in query if qw.matches]
        if all(qw.known for qw in query):
            return 1.0
        best = [max(qw.matches.items(), key=lambda kv: kv[1]) for qw in query]
        weights = [self.weight(qw) for qw in query]
        covered = sum(w * q for w, (_, q) in zip(weights, best, strict=True)) / (sum(weights) or 1.0)
        idf = sum(self.idf[s] for s, _ in best) or 1.0
        return covered * math.sqrt(min(1.0, sum(self.idf[s] * q for s, q in best) / idf))

    # ------------------------------------------------------------------ documents
    def score(self, query: Sequence[QueryWord], min_coverage: float = 0.0) -> dict[int, float]:
        """Document id -> 0..1 for the documents covering at least ``min_coverage`` of the query.

        Coverage is summed per document first (one dict update per posting), and only the documents
        that pass ``min_coverage`` get the finer matched-share factor: a common word (« agent ») reaches
        thousands of titles that cannot score, and they cost one addition each."""
        query = [qw for qw in query if qw.matches]  # a word the index does not know cannot rank its documents
        if not query:
            return {}
        weights = [self.weight(qw) for qw in query]
        total = sum(weights) or 1.0
        coverage: dict[int, float] = defaultdict(float)
        for qw, weight in zip(query, weights, strict=True):
            best: dict[int, float] = {}
            for s, quality in sorted(qw.matches.items(), key=lambda kv: -kv[1]):
                for doc in self.postings.get(s, ()):
                    if doc not in best:
                        best[doc] = quality
            for doc, quality in best.items():
                coverage[doc] += weight * quality
        threshold = min_coverage * total
        matched_quality = {s: q for qw in query for s, q in qw.matches.items()}
        out: dict[int, float] = {}
        for doc, covered in coverage.items():
            if covered < threshold:
                continue
            stems = self.doc_stems[doc]
            matched = sum(self.idf[s] * matched_quality[s] for s in stems if s in matched_quality)
            out[doc] = covered / total * math.sqrt(min(1.0, matched / self.doc_weight[doc]))
        return out
