"""The one job resolver: typed text (+ optional NAF) -> weighted jobs (ROME) -> weighted formations (CFD).

Built from a ``JobVocabulary`` (see docs/job-vocabulary.md for every rule and why):
* titles: ROME appellations (principale over synonyme), fiche labels, ONISEP job names;
* a job's formations: Certif Info links by rank, ONISEP's own links, settled in ``links.JobLinks``;
  a ROME 4 child fiche with no link of its own borrows its parent's, only when their words agree;
* formation labels and sigles (« MELEC », « AEPE ») match the typed text directly;
* a NAF sector re-weights the jobs found in the text, and is the source only when no job is typed.
Read-only once built: the catalog and the matcher share one instance per snapshot.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from functools import lru_cache

from shared.reference.jobs.index import QueryWord, WordIndex
from shared.reference.jobs.links import FormationLink, JobLinks
from shared.reference.jobs.text import DIPLOMA_FILLER, DIPLOMA_WORDS, STOP_WORDS, fold, stem, words
from shared.reference.jobs.understanding import JobSense, JobSuggestion, Understanding
from shared.reference.jobs.vocabulary import CompactVocabulary, JobVocabulary, compact_vocabulary

ROME_CODE = re.compile(r"[A-N]\d{4}")
KIND_WEIGHT = {"principale": 1.0, "rome": 1.0, "onisep": 0.97, "synonyme": 0.93}
UNTAUGHT = 0.7  # a job no located lycée trains for ranks below one they do
HIGHER_EDUCATION = 0.5  # ONISEP says the job starts at bac + 3 or more
NAF_BOOST = 1.15
KEEP_RATIO = 0.85  # senses kept as "understood": within this share of the best
MIN_SCORE = 0.3  # below this, the text names no job
PARTIAL_SCORE = 0.15  # with nothing above MIN_SCORE, the best readings from here on, said vague
SENSE_MIN_COVERAGE = 0.15  # titles covering less of the text cannot reach MIN_SCORE (with every bonus)
FORMATION_MIN = 0.6  # a formation label the text covers counts from this score
SIGLE_FORMATION_MIN = 0.3  # a sigle's expansion covering a label: options may lengthen it
EXECUTIVE = 0.7  # an emploi cadre: as rarely what a lycée trains for as a job no lycée teaches (UNTAUGHT)
DOMAIN_MIN = 0.5  # a domain's label that covers the text this well stands for the domain (« transport »)
DOMAIN_JOB_MAX = 0.75  # a job title matching the text this well is what it means, whatever domain it names
NOT_HEAD = 0.9  # the typed trade is not the title's first word
SUPPORT_STEP, SUPPORT_MAX = 0.02, 0.08  # several titles of one job naming the text: a surer sense
EXACT = 0.999  # a title score this high: the text is the title
SECONDARY_SENSE_POWER = 4
VAGUE_SENSES = 4  # a one-word text close to this many jobs is vague: more of them are kept


class JobResolver:
    def __init__(self, vocabulary: JobVocabulary | CompactVocabulary,
                 taught_cfds: Iterable[str] | Mapping[str, int] = ()) -> None:
        """``taught_cfds``: the formations located lycées teach, with how many lycées when known."""
        vocabulary = compact_vocabulary(vocabulary)
        counts = dict(taught_cfds) if isinstance(taught_cfds, Mapping) else dict.fromkeys(taught_cfds, 1)
        self.taught_counts = counts
        self.vocabulary = vocabulary
        self.rome_labels = {j.rome: j.label for j in vocabulary.jobs}
        self.naf_romes = {k: frozenset(v) for k, v in vocabulary.naf_division_romes.items()}
        self.links = JobLinks(vocabulary, frozenset(counts))
        titles = [t for t in vocabulary.titles if t.rome in self.rome_labels]
        self.titles = titles
        self.title_index = WordIndex([t.label for t in titles])
        self.formations = {f.cfd: f for f in vocabulary.formations}
        # Diplomas named in the text: those lycées teach, and closed ones (« bac pro SN ») for their successors.
        taught = self.links.taught_cfds
        self.formation_cfds = [f.cfd for f in vocabulary.formations if self.links.lycee_level(f.cfd) and (
            f.cfd in taught or (f.closed and any(c in taught for c in f.successors)))]
        self.formation_index = WordIndex([self.formations[c].label for c in self.formation_cfds])
        self.keyword_cfds: dict[str, list[str]] = defaultdict(list)
        for f in vocabulary.formations:
            for kw in f.keywords[:8]:
                self.keyword_cfds[stem(fold(kw))].append(f.cfd)
        self.abbreviations = {fold(a.abbreviation): a.expansion for a in vocabulary.abbreviations}
        domains: dict[str, list[str]] = defaultdict(list)  # « Transport et Logistique » -> its fiches
        for j in vocabulary.jobs:
            for label in (j.domain_label, j.grand_domain):
                if label:
                    domains[label].append(j.rome)
        self.domain_labels = list(domains)
        self.domain_romes = [domains[label] for label in self.domain_labels]
        self.domain_index = WordIndex(self.domain_labels)
        self._domain_jobs = lru_cache(maxsize=None)(self._domain_jobs_uncached)
        self._stems_by_rome: dict[str, frozenset[str]] | None = None  # built on the first vague request
        self.understand = lru_cache(maxsize=8192)(self._understand)

    # ------------------------------------------------------------------ parsing
    def _typed(self, text: str) -> tuple[list[str], str | None, bool]:
        """The meaningful typed words with sigles expanded, the diploma named (« CAP boulanger »), and
        whether a sigle was expanded (« MELEC », « CAP AEPE »)."""
        typed = [w for w in words(text) if w]
        whole = fold(text)
        if whole in self.abbreviations:
            return [w for w in words(self.abbreviations[whole]) if w not in STOP_WORDS], None, True
        expanded: list[str] = []
        diploma = None
        sigle = False
        for w in typed:
            if w in DIPLOMA_WORDS and len(typed) > 1:
                diploma = diploma or DIPLOMA_WORDS[w]
                continue
            if w in self.abbreviations and len(w) >= 2:
                expanded.extend(x for x in words(self.abbreviations[w]) if x not in STOP_WORDS)
                sigle = True
            elif w not in STOP_WORDS and not (diploma and w in DIPLOMA_FILLER):
                expanded.append(w)
        return expanded, diploma, sigle

    @staticmethod
    def _query(index: WordIndex, typed: list[str], *, prefix: bool = False) -> list[QueryWord]:
        last = len(typed) - 1
        return [index.prefix_word(w) if prefix and i == last else index.query_word(w) for i, w in enumerate(typed)]

    # ------------------------------------------------------------------ understanding
    def _senses(self, query: list[QueryWord], naf_division: str | None) -> list[JobSense]:
        best: dict[str, JobSense] = {}
        support: dict[str, int] = defaultdict(int)
        exact: set[str] = set()
        naf = self.naf_romes.get(naf_division or "", frozenset())
        heads = set(query[0].matches) if query else set()
        for doc, score in self.title_index.score(query, min_coverage=SENSE_MIN_COVERAGE).items():
            title = self.titles[doc]
            rome = title.rome or ""
            # French job titles put the trade first: « Vendeur en boulangerie » is a vendeur.
            s = score * KIND_WEIGHT[title.kind] * (1.0 if self.title_index.doc_stems[doc][0] in heads else NOT_HEAD)
            if s + SUPPORT_MAX < PARTIAL_SCORE / NAF_BOOST:
                continue  # cannot be kept, whatever the bonuses
            if s >= 0.5:
                support[rome] += 1
            if score >= EXACT:
                exact.add(rome)
            current = best.get(rome)
            if current is None or s > current.score:
                best[rome] = JobSense(rome, self.rome_labels[rome], s, title.label, False)
        out = []
        for rome, sense in best.items():
            s = sense.score + min(SUPPORT_MAX, SUPPORT_STEP * max(0, support[rome] - 1))
            taught = self.links.is_taught(rome)
            if self.links.jobs[rome].executive:
                s *= EXECUTIVE
            if not taught:
                s *= UNTAUGHT
            elif self.links.higher_education_only(rome):
                s *= HIGHER_EDUCATION
            if naf and (rome in naf or self.links.parent(rome) in naf):
                s *= NAF_BOOST
            out.append(JobSense(rome, sense.label, round(min(s, 1.0), 4), sense.via, taught, rome in exact))
        return sorted(out, key=lambda j: (-j.score, not j.taught, j.rome))

    def _understand(self, text: str, naf_division: str | None = None) -> Understanding:
        code = text.strip().upper()
        if ROME_CODE.fullmatch(code) and code in self.rome_labels:
            out = Understanding(text=text, status="compris")
            out.jobs = [JobSense(code, self.rome_labels[code], 1.0, code, self.links.is_taught(code))]
            out.formations = dict(self.links.for_job(code, []))
            return out
        typed, diploma, sigle = self._typed(text)
        query = self._query(self.title_index, typed)
        out = Understanding(text=text, status="inconnu", diploma=diploma)
        if not query:
            return out
        if sigle and self._sigle_formations(out, typed, diploma):
            if diploma:
                _prefer_diploma(out, diploma, self.formations)
            return out
        ranked = self._senses(query, naf_division)
        senses = [s for s in ranked if s.score >= MIN_SCORE]
        partial = not senses and bool(ranked) and ranked[0].score >= PARTIAL_SCORE and ranked[0].taught
        if partial:  # a long text no title covers well: its best partial readings, said vague
            senses = [s for s in ranked if s.score >= KEEP_RATIO * ranked[0].score and s.taught][:3]
        domain = self._domain_senses(typed, senses[0].score if senses else 0.0)
        if domain:
            senses = domain + [s for s in senses if s.rome not in {d.rome for d in domain}]
        if senses:
            top = senses[0].score
            close = [s for s in senses if s.score >= KEEP_RATIO * top]
            vague = bool(domain) or partial or (len(typed) == 1 and len(close) >= VAGUE_SENSES)
            kept = close[:5] if vague else close[:3]
            # A job the text names word for word stays a reading, even ranked lower (a title two fiches share).
            kept += [s for s in senses if s.exact and s.taught and s not in kept][:2]
            out.jobs = kept
            out.alternatives = [s for s in senses if s not in kept][:5]
            per_sense = [(sense, self.links.for_job(sense.rome, typed)) for sense in kept]
            # A domain's diplomas stand in for a job no diploma trains for: not when another reading of
            # the same text has diplomas of its own (« couvreur »: F1619 has CAP couvreur, F1610 none).
            specific = any(self.links.is_taught_strongly(
                {c: link for c, link in links.items() if not self.links.is_fallback(link)}) for _, links in per_sense)
            for sense, links in per_sense:
                # The likeliest sense leads; the others count much less (0.9 of the score -> 0.66).
                share = (sense.score / top) ** SECONDARY_SENSE_POWER
                for link in links.values():
                    if specific and self.links.is_fallback(link):
                        continue
                    _merge(out.formations, link.scaled(share))
            out.status = "vague" if vague else "compris"
        self._direct_formations(out, self._query(self.formation_index, typed), senses[0].score if senses else 0.0)
        if diploma:
            _prefer_diploma(out, diploma, self.formations)
        if not out.formations and not out.jobs:
            self._keyword_formations(out, query)
        if out.status == "inconnu" and out.formations:
            out.status = "compris"
        out.ignored = [qw.typed for qw in query if not qw.matches] if out.status != "inconnu" else []
        own = set(words(text))  # a sigle's expansion is not a typo of the company's
        unknown = [qw for qw in query if not qw.known and qw.typed in own]
        corrections = {qw.typed: _correction(qw, out.jobs[0].via if out.jobs else "") for qw in unknown
                       if qw.corrections}
        if out.status != "inconnu" and unknown:
            out.correction = " ".join(corrections.get(w, w) for w in typed) if corrections else None
            if out.correction is None and out.jobs:
                out.correction = out.jobs[0].label
            out.status = "corrige"
        return out

    def _domain_senses(self, typed: list[str], best_job: float) -> list[JobSense]:
        """« transport », « industrie », « métiers du bâtiment »: a text that names a ROME domain better than
        any job stands for the domain's jobs lycées train for most (vague, said so to the company)."""
        if not typed or len(typed) > 3 or best_job >= DOMAIN_JOB_MAX:
            return []
        query = self._query(self.domain_index, typed)
        if not all(qw.matches for qw in query):
            return []  # « installateur photovoltaïque » names more than a domain
        found = self.domain_index.score(query, min_coverage=0.99)
        if not found:
            return []
        doc = max(found, key=lambda d: (found[d], -len(self.domain_romes[d])))
        score = min(found[doc], 0.95)
        if score < DOMAIN_MIN or score <= best_job:
            return []
        label = self.domain_labels[doc]
        # Among the domain's jobs, those a title of which holds a typed word first (« transport »: the
        # drivers of « conducteur de transport routier » before the domain's warehouse jobs).
        typed_stems = {s for qw in query for s in qw.matches}
        jobs = self._domain_jobs(doc)
        named = [r for r in jobs if typed_stems & self._title_stems(r)]
        jobs = named + [r for r in jobs if r not in named]
        return [JobSense(rome, self.rome_labels[rome], round(score * (1 - 0.02 * i), 4), label, True)
                for i, rome in enumerate(jobs[:5])]

    def _title_stems(self, rome: str) -> frozenset[str]:
        if self._stems_by_rome is None:
            by_rome: dict[str, set[str]] = defaultdict(set)
            for doc, title in enumerate(self.titles):
                by_rome[title.rome or ""].update(self.title_index.doc_stems[doc])
            self._stems_by_rome = {r: frozenset(v) for r, v in by_rome.items()}
        return self._stems_by_rome.get(rome, frozenset())

    def _domain_jobs_uncached(self, doc: int) -> list[str]:
        """The domain's jobs, those the most lycées' CAP and bac pro train for first (no emploi cadre)."""
        def taught_at_lycee(rome: str) -> int:
            return sum(self.taught_counts.get(c, 0) for c, link in self.links.for_rome(rome).items()
                       if link.weight >= 0.75 and (self.formations[c].level or 9) <= 4 and not link.common_first_year)
        ranked = [(taught_at_lycee(r), r) for r in self.domain_romes[doc] if not self.links.jobs[r].executive]
        return [r for n, r in sorted(ranked, key=lambda t: (-t[0], t[1])) if n > 0]

    def _sigle_formations(self, out: Understanding, typed: list[str], diploma: str | None) -> bool:
        """A sigle names a diploma (« bac pro MELEC ») or a job (« PL ») as written in full: the diplomas so
        named, and the jobs Certif Info and ONISEP link them to; False when the words name no diploma."""
        found = self.formation_index.score(self._query(self.formation_index, typed), min_coverage=0.99)
        best = max(found.values(), default=0.0)
        if best < SIGLE_FORMATION_MIN:  # every word of the expansion is in the label: options may lengthen it
            return False
        scored = {self.formation_cfds[doc]: score for doc, score in found.items()}
        if diploma:  # « bac pro SN »: the bac pro, not the BTS of the same name
            scored = {c: v for c, v in scored.items() if self.formations[c].diploma.startswith(diploma)} or scored
        # The specialities so named (their options lengthen the label), else the common first year.
        specialities = {c: v for c, v in scored.items() if not self.formations[c].common_first_year} or scored
        top = max(specialities.values())
        for cfd in [c for c, v in specialities.items() if v >= 0.75 * top]:
            f = self.formations[cfd]
            link = FormationLink(cfd, 1.0, "diplôme nommé par son sigle", f.common_first_year, self.links.formation_label(cfd))
            _merge(out.formations, link)
            for other in self.links.successors_of(link).values():
                _merge(out.formations, other)
        # The jobs these diplomas (and their renovations) lead to: both sources first, then Certif's rank.
        votes: dict[str, float] = defaultdict(float)
        for f in (self.formations[c] for c in out.formations if c in self.formations):
            for rank, rome in enumerate(f.romes):
                votes[rome] += 1.0 - 0.05 * rank
            for rome in self.links.onisep_romes_of(f.cfd):
                votes[rome] += 1.0
        ranked = sorted((r for r in votes if r in self.rome_labels), key=lambda r: (-votes[r], r))
        top = votes[ranked[0]] if ranked else 1.0
        out.jobs = [JobSense(r, self.rome_labels[r], round(min(1.0, votes[r] / top), 4), "diplôme nommé",
                             self.links.is_taught(r)) for r in ranked[:3]]
        out.status = "compris"
        return True

    def _direct_formations(self, out: Understanding, query: list[QueryWord], job_score: float) -> None:
        """A formation named in the text (« maintenance des véhicules », « CAP AEPE ») counts as such."""
        for doc, score in self.formation_index.score(query, min_coverage=0.99).items():
            if score < max(FORMATION_MIN, job_score):
                continue
            cfd = self.formation_cfds[doc]
            f = self.formations[cfd]
            link = FormationLink(cfd, min(1.0, score), "intitulé du diplôme", f.common_first_year,
                                 self.links.formation_label(cfd))
            _merge(out.formations, link)
            for rlink in self.links.successors_of(link).values():
                _merge(out.formations, rlink)
            if not out.jobs and f.romes:
                rome = f.romes[0]
                out.jobs = [JobSense(rome, self.rome_labels.get(rome, rome), round(score, 4), f.label,
                                     self.links.is_taught(rome))]

    def _keyword_formations(self, out: Understanding, query: list[QueryWord]) -> None:
        """Last resort for vague text: formations whose keywords hold every typed word."""
        sets = [set().union(*(self.keyword_cfds.get(s, ()) for s in {qw.stem, *qw.matches})) for qw in query]
        common = set.intersection(*sets) if sets else set()
        for cfd in sorted(common)[:20]:
            f = self.formations.get(cfd)
            if f is None or f.closed:
                continue
            _merge(out.formations, FormationLink(cfd, 0.5, "mots-clés du diplôme", f.common_first_year,
                                                 self.links.formation_label(cfd)))

    # ------------------------------------------------------------------ requests
    def understand_request(self, jobs: list[str], naf: str | None) -> list[Understanding]:
        """One understanding per typed job; the NAF sector's typical jobs when none is typed."""
        division = naf_division_of(naf)
        if jobs:
            return [self.understand(j, division) for j in jobs]
        if division and division in self.naf_romes:
            return [self.sector(division)]
        return []

    @lru_cache(maxsize=256)  # noqa: B019 - one resolver per snapshot, a bounded cache is the point
    def sector(self, division: str) -> Understanding:
        out = Understanding(text=f"NAF {division}", status="compris", from_sector=True)
        romes = sorted(self.naf_romes.get(division, ()))
        out.jobs = [JobSense(r, self.rome_labels.get(r, r), 0.8, "secteur d'activité", self.links.is_taught(r))
                    for r in romes]
        for rome in romes:
            for link in self.links.for_job(rome, []).values():
                _merge(out.formations, link.scaled(0.8))
        return out

    # ------------------------------------------------------------------ autocomplete
    def suggest(self, text: str, limit: int = 10) -> list[JobSuggestion]:
        typed, _, _ = self._typed(text)
        query = self._query(self.title_index, typed, prefix=not text.endswith(" "))
        if not query:
            return []
        scored = []
        for doc, score in self.title_index.score(query, min_coverage=0.9).items():
            title = self.titles[doc]
            taught = self.links.is_taught(title.rome or "")
            s = score * KIND_WEIGHT[title.kind] * (1.0 if taught else UNTAUGHT)
            scored.append((-s, len(title.label), title.label, doc))
        scored.sort()
        out: list[JobSuggestion] = []
        seen: set[str] = set()
        for neg, _, label, doc in scored:
            key = fold(label)
            if key in seen:
                continue
            seen.add(key)
            title = self.titles[doc]
            rome = title.rome or ""
            out.append(JobSuggestion(label, rome, self.rome_labels.get(rome, ""), _source(title.kind), round(-neg, 4),
                                     self.links.is_taught(rome)))
            if len(out) >= limit:
                break
        return out


def _correction(qw: QueryWord, via: str) -> str:
    """The word a typo stands for: the one the understood job's title holds, else the closest."""
    title = {stem(w) for w in words(via)}
    return next((w for w in qw.corrections if stem(w) in title), qw.corrections[0])


def _source(kind: str) -> str:
    return {"principale": "appellation", "synonyme": "appellation"}.get(kind, kind)


def _merge(target: dict[str, FormationLink], link: FormationLink) -> None:
    current = target.get(link.cfd)
    if current is None or link.weight > current.weight:
        target[link.cfd] = link


def _prefer_diploma(out: Understanding, diploma: str, formations: dict) -> None:
    """« CAP boulanger »: the CAP keeps its weight, other diplomas of the job count a little less."""
    named = {c for c in out.formations if formations.get(c) and formations[c].diploma.startswith(diploma)}
    if not named:
        return
    for cfd, link in list(out.formations.items()):
        if cfd not in named:
            out.formations[cfd] = link.scaled(0.8)


def naf_division_of(naf: str | None) -> str | None:
    digits = "".join(c for c in (naf or "") if c.isdigit())
    return digits[:2] if len(digits) >= 2 else None
