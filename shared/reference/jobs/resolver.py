"""The one job resolver: typed text (+ optional NAF) -> weighted jobs (ROME) -> weighted formations (CFD).

Built from a ``JobVocabulary`` (see docs/job-vocabulary.md for every rule and why):
* titles: ROME appellations (principale over synonyme), fiche labels, ONISEP job names;
* a job's formations: Certif Info links by rank, ONISEP's own links, settled in ``links.JobLinks``;
  a ROME 4 child fiche with no link of its own borrows its parent's, only when their words agree;
* formation labels and sigles (« MELEC », « AEPE ») match the typed text directly;
* a NAF sector re-weights the jobs found in the text, and is the source only when no job is typed.
Read-only once built: the catalog and the matcher share one instance per snapshot.

This module puts the steps together; each is its own module: ``typed`` (the words typed, sigles,
diploma words), ``titles`` (jobs read on their titles; autocomplete), ``domains`` (a domain named),
``diplomas`` (diplomas named by sigle, label or keywords), ``links`` (a job's formations).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

from shared.reference.jobs.diplomas import NamedDiplomas
from shared.reference.jobs.domains import Domains
from shared.reference.jobs.generic import generic_readings, one_title_readings, shared_formations
from shared.reference.jobs.index import QueryWord, WordIndex
from shared.reference.jobs.links import JobLinks, merge_link
from shared.reference.jobs.lists import listed, listed_parts
from shared.reference.jobs.sigles import label_sigles
from shared.reference.jobs.text import fold, masculine, stem, words
from shared.reference.jobs.titles import PARTIAL_SCORE, JobTitles
from shared.reference.jobs.typed import query_words, read_typed
from shared.reference.jobs.understanding import JobSense, JobSuggestion, Understanding
from shared.reference.jobs.vocabulary import CompactVocabulary, JobVocabulary, compact_vocabulary

ROME_CODE = re.compile(r"[A-N]\d{4}")
KEEP_RATIO = 0.85  # senses kept as "understood": within this share of the best
MIN_SCORE = 0.3  # below this, the text names no job
SECONDARY_SENSE_POWER = 4
WEAK_SCORE = 0.4  # a best reading under this covers the text poorly
TITLED_SCORE = 0.9  # a title names the text with its sigle as written (« Ferrailleur du BTP »)
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
        self.titles = [t for t in vocabulary.titles if t.rome in self.rome_labels]
        self.job_titles = JobTitles(self.titles, self.rome_labels, self.naf_romes, self.links,
                                    [t for t in vocabulary.certification_titles if t.rome in self.rome_labels])
        self.diplomas = NamedDiplomas(vocabulary.formations, self.links, self.rome_labels)
        self.formations = self.diplomas.formations
        self.abbreviations = {fold(a.abbreviation): a.expansion for a in vocabulary.abbreviations}
        self.clippings = frozenset(fold(a.abbreviation) for a in vocabulary.abbreviations if a.clipping)
        self.titled_sigles = frozenset(a for a in self.abbreviations if a in self.job_titles.index.known_words)
        taught = self.links.taught_cfds
        self.label_sigles = label_sigles(vocabulary.formations, taught,
                                         self.abbreviations.keys() | self.job_titles.index.known_words,
                                         renamed={f.cfd for f in vocabulary.formations
                                                  if f.closed and self.links.renovations.of(f.cfd) & taught})
        self.domains = Domains(vocabulary.jobs, self.job_titles, self.links, self.formations, counts)
        self.understand = lru_cache(maxsize=8192)(self._understand)

    # ------------------------------------------------------------------ understanding
    def _understand(self, text: str, naf_division: str | None = None) -> Understanding:
        """One job, or several listed in one text (« cuisinier, serveur »): each read alone, then together."""
        parts = [part for part in listed_parts(text, self.job_titles.index.known_words,
                                               self.job_titles.is_title_head) if part.strip()]
        if len(parts) > 1:
            named = [u for u in (self._understand_one(part, naf_division) for part in parts) if u.status != "inconnu"]
            if len({u.romes[0] if u.romes else u.text for u in named}) > 1:
                return listed(text, named)
        return self._understand_one(text, naf_division)

    def _understand_one(self, text: str, naf_division: str | None = None) -> Understanding:
        code = text.strip().upper()
        if ROME_CODE.fullmatch(code) and code in self.rome_labels:
            out = Understanding(text=text, status="compris")
            out.jobs = [JobSense(code, self.rome_labels[code], 1.0, code, self.links.is_taught(code))]
            out.formations = dict(self.links.for_job(code, []))
            return out
        read = read_typed(text, self.abbreviations, self.clippings, self.titled_sigles, self.label_sigles)
        typed, diploma = read.words, read.diploma
        query = query_words(self.job_titles.index, typed)
        out = Understanding(text=text, status="inconnu", diploma=diploma)
        if not query:
            return out
        own = set(words(text))  # the company's own words, not a sigle's expansion (« AGORA » names no job)
        own_stems = {qw.stem for qw in query if qw.typed in own}  # as typed: « magasinier », not « magasin »
        # « ferrailleur BTP »: job titles write some sigles as such (« Ferrailleur du BTP »); read as written
        # too, the better reading wins, and a title naming the text so leaves the sigle's diplomas aside.
        literal_query = query_words(self.job_titles.index, read.literal) if read.literal else []
        literal_ranked = self.job_titles.senses(literal_query, naf_division) if literal_query else []
        titled = bool(literal_ranked) and literal_ranked[0].score >= TITLED_SCORE
        if read.sigle and not titled and self.diplomas.by_sigle(out, typed, diploma,
                                                 naming=lambda rome: len(own_stems & self.job_titles.stems_of(rome)),
                                                 own=frozenset(own)):
            if diploma:
                self.diplomas.prefer(out, diploma)
            return out
        ranked = self.job_titles.senses(query, naf_division)
        # The better reading wins, unless its title names a trade the text does not and the other's does not.
        if literal_ranked and (not ranked or literal_ranked[0].score > ranked[0].score) \
                and not (ranked and self._adds_a_trade(literal_query, literal_ranked[0])
                         and not self._adds_a_trade(query, ranked[0])):
            typed, query, ranked = read.literal or typed, literal_query, literal_ranked
        elif read.head and ranked and self.job_titles.is_title_head(query[0].stem) \
                and not self._holds_head(query, ranked[0].rome):
            # « vendeur en supermarché » read as « directeur de supermarché »: a rare word of the place beat
            # the job the text opens with (a word job titles open with: not « vente » in « vente en
            # magasin »). Where no title of the best reading's fiche holds it, the words before the place
            # are read alone, if their best reading does hold it.
            head_query = query_words(self.job_titles.index, read.head)
            head_ranked = self.job_titles.senses(head_query, naf_division)
            if head_ranked and self._holds_head(head_query, head_ranked[0].rome):
                typed, query, ranked = read.head, head_query, head_ranked
        senses = [s for s in ranked if s.score >= MIN_SCORE]
        partial = not senses and bool(ranked) and ranked[0].score >= PARTIAL_SCORE and ranked[0].taught
        if partial:  # a long text no title covers well: its best partial readings, said vague
            ranked = self._naming_rarest(query, ranked)
            senses = [s for s in ranked if s.score >= KEEP_RATIO * ranked[0].score and s.taught][:3]
        domain = self.domains.senses(typed, senses[0].score if senses else 0.0)
        generic = [] if domain or partial else (generic_readings(query, senses)
                                                 or one_title_readings(senses, KEEP_RATIO, VAGUE_SENSES))
        in_sector = [s for s in generic if s.rome in self.naf_romes.get(naf_division or "", frozenset())]
        if in_sector:  # the company's sector says which of the trades it means
            senses, generic = in_sector, []
        shared = shared_formations(generic, self.links) if generic else None
        if shared:  # a role many trades share (« opérateur de production »): what they have in common
            out.formations, out.jobs = shared
            out.alternatives = [s for s in senses if s not in out.jobs][:5]
            out.status = "vague"
            senses = []
        if domain:
            senses = domain + [s for s in senses if s.rome not in {d.rome for d in domain}]
        if senses:
            top = senses[0].score
            close = [s for s in senses if s.score >= KEEP_RATIO * top]
            vague = bool(domain) or partial or (len(typed) == 1 and len(close) >= VAGUE_SENSES)
            kept = close[:5] if vague else close[:3]
            # A job the text names word for word stays a reading, even ranked lower (a title two fiches share).
            kept += [s for s in senses if s.exact and s.taught and s not in kept][:2]
            if diploma:  # « CAP cuisine » is that CAP: not the plaquiste a « poseur de cuisines » title reads
                of_diploma = self._of_named_diploma(kept, typed, diploma)
                vague = vague and of_diploma is None  # a diploma named word for word is no vague request
                kept = of_diploma or kept
            out.jobs = kept
            out.alternatives = [s for s in senses if s not in kept][:5]
            per_sense = [(sense, self.links.for_job(sense.rome, self._naming(query, sense.rome))) for sense in kept]
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
                    merge_link(out.formations, link.scaled(share))
            # Readings that cover the text poorly and lie in different trades (« mise en rayon »: mise en
            # scène, chef de rayon): routed as read, but the company is told its request is unclear.
            scattered = top < WEAK_SCORE and len({s.rome[0] for s in close}) > 1
            out.status = "vague" if vague or scattered else "compris"
        self.diplomas.by_label(out, typed, senses[0].score if senses else 0.0, diploma)
        if diploma:
            self.diplomas.prefer(out, diploma)
        if not out.formations and not out.jobs:
            self.diplomas.by_keywords(out, query)
        if out.status == "inconnu" and out.formations:
            out.status = "compris"
        out.ignored = [qw.typed for qw in query if not qw.matches] if out.status != "inconnu" else []
        unknown = [qw for qw in query if not qw.known and qw.typed in own]  # a sigle's expansion is not a typo of the company's
        corrections = {qw.typed: _correction(qw, out.jobs[0].via if out.jobs else "") for qw in unknown
                       if qw.corrections}
        if out.status != "inconnu" and unknown:
            out.correction = " ".join(corrections.get(w, w) for w in typed) if corrections else None
            if out.correction is None and out.jobs:
                out.correction = out.jobs[0].label
            out.status = "corrige"
        return out

    def _of_named_diploma(self, kept: list[JobSense], typed: list[str], diploma: str) -> list[JobSense] | None:
        """The readings the diploma the text names word for word leads to; None when it names no diploma
        so or the diploma leads to none of them."""
        linked = self.diplomas.jobs_exactly_named(typed, diploma)
        parent = self.links.parent
        return [s for s in kept if s.rome in linked or parent(s.rome) in linked] or None

    def _adds_a_trade(self, query: list[QueryWord], sense: JobSense) -> bool:
        """The title read names a trade the text does not: « chef d'équipe BTP » read as written is the
        « Chef d'équipe ferrailleur du BTP », while the sigle expanded reads « Chef d'équipe travaux publics ».
        A word job titles open with, absent from the text, is such a trade."""
        typed = {qw.stem for qw in query} | {m for qw in query for m in qw.matches}
        return any(w not in typed and self.job_titles.is_title_head(w) for w in (stem(masculine(x)) for x in words(sense.via)))

    def _holds_head(self, query: list[QueryWord], rome: str) -> bool:
        """A title of the fiche holds the first typed word (its family when it is no indexed word: a typo)."""
        if not query:
            return False
        first = query[0]
        return bool(({first.stem} if first.stem in first.matches else set(first.matches)) & self.job_titles.stems_of(rome))

    def _naming(self, query: list[QueryWord], rome: str) -> list[str]:
        """The typed words the job's titles hold: those that name it, for the typed-word preference."""
        stems = self.job_titles.stems_of(rome)
        return [qw.typed for qw in query if set(qw.matches) & stems]

    def _naming_rarest(self, query: list[QueryWord], ranked: list[JobSense]) -> list[JobSense]:
        """A long text no title covers (« conseiller de vente en magasin de bricolage »): its rarest word
        names the trade, so the readings one of whose titles holds it come first, the others dropped."""
        index = self.job_titles.index
        matched = [qw for qw in query if qw.matches]
        if len(matched) < 2:
            return ranked
        rarest = max(matched, key=index.weight)
        naming = [s for s in ranked if s.taught and s.score >= PARTIAL_SCORE
                  and set(rarest.matches) & self.job_titles.stems_of(s.rome)]
        return naming or ranked

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
                merge_link(out.formations, link.scaled(0.8))
        return out

    # ------------------------------------------------------------------ autocomplete
    def suggest(self, text: str, limit: int = 10) -> list[JobSuggestion]:
        typed = read_typed(text, self.abbreviations, self.clippings).words
        prefix = not text.endswith(" ")
        query = _with_corrections(self.job_titles.index, query_words(self.job_titles.index, typed, prefix=prefix))
        if not query:
            return []
        certified = self.job_titles.certified_index
        certified_query = _with_corrections(certified, query_words(certified, typed, prefix=prefix)) if certified else None
        return self.job_titles.suggest(query, limit, certified_query)


def _with_corrections(index: WordIndex, query: list[QueryWord]) -> list[QueryWord]:
    """The autocomplete's words, a typo read as its closest indexed words (« cuisnier »: cuisinier), as the
    understanding reads it: no title holds it nor a word it begins, and every word must match for any
    title to be offered. The best correction counts as the word typed right: the titles offered must
    cover the text almost whole, which a correction's lower quality alone would fail."""
    out = []
    for qw in query:
        if not qw.matches:
            corrected = index.query_word(qw.typed)
            if corrected.matches:
                best = max(corrected.matches.values())
                corrected.matches = {s: q / best for s, q in corrected.matches.items()}
            qw = corrected
        out.append(qw)
    return out


def _correction(qw: QueryWord, via: str) -> str:
    """The word a typo stands for: the one the understood job's title holds, else the closest."""
    title = {stem(w) for w in words(via)}
    return next((w for w in qw.corrections if stem(w) in title), qw.corrections[0])


def naf_division_of(naf: str | None) -> str | None:
    digits = "".join(c for c in (naf or "") if c.isdigit())
    return digits[:2] if len(digits) >= 2 else None
