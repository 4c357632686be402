"""Diplomas named in the text: by their sigle (« bac pro MELEC »), by their label (« maintenance des
véhicules »), and, last resort for vague text, by their keywords. See docs/job-vocabulary.md."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping

from shared.reference.jobs.index import QueryWord, WordIndex
from shared.reference.jobs.links import FormationLink, JobLinks, merge_link
from shared.reference.jobs.text import fold, stem
from shared.reference.jobs.typed import query_words
from shared.reference.jobs.understanding import JobSense, Understanding
from shared.reference.jobs.vocabulary import CompactFormation

FORMATION_MIN = 0.6  # a formation label the text covers counts from this score
SIGLE_FORMATION_MIN = 0.3  # a sigle's expansion covering a label: options may lengthen it
EXACT_LABEL = 0.999  # the text is the label, word for word


class NamedDiplomas:
    def __init__(self, formations: list[CompactFormation], links: JobLinks, rome_labels: Mapping[str, str]) -> None:
        self.formations = {f.cfd: f for f in formations}
        self.links = links
        self.rome_labels = rome_labels
        # Diplomas named in the text: those lycées teach, and closed ones (« bac pro SN ») for their successors.
        taught = links.taught_cfds
        self.cfds = [f.cfd for f in formations if links.lycee_level(f.cfd) and (
            f.cfd in taught or (f.closed and any(c in taught for c in f.successors)))]
        self.index = WordIndex([self.formations[c].label for c in self.cfds])
        self.keyword_cfds: dict[str, list[str]] = defaultdict(list)
        for f in formations:
            for kw in f.keywords[:8]:
                self.keyword_cfds[stem(fold(kw))].append(f.cfd)

    def by_sigle(self, out: Understanding, typed: list[str], diploma: str | None,
                 naming: Callable[[str], int] = lambda rome: 0, own: frozenset[str] = frozenset()) -> bool:
        """A sigle names a diploma (« bac pro MELEC ») or a job (« PL ») as written in full: the diplomas so
        named, and the jobs Certif Info and ONISEP link them to, those ``naming`` says the text names (how
        many typed words their titles hold) first; False when the words name no diploma."""
        query = query_words(self.index, typed)
        # A word the company typed itself that no label holds (« secrétaire BTP »: « secrétaire ») says the text
        # names no diploma; a word of the sigle's expansion may be missing (« SPL »: « super »).
        if not all(qw.matches for qw in query if qw.typed in own):
            return False
        found = self.index.score(query, min_coverage=0.99)
        best = max(found.values(), default=0.0)
        if best < SIGLE_FORMATION_MIN:  # every word of the expansion is in the label: options may lengthen it
            return False
        scored = {self.cfds[doc]: score for doc, score in found.items()}
        if diploma:  # « bac pro SN »: the bac pro, not the BTS of the same name
            scored = {c: v for c, v in scored.items() if self.formations[c].diploma.startswith(diploma)} or scored
        # The specialities so named (their options lengthen the label), else the common first year.
        specialities = {c: v for c, v in scored.items() if not self.formations[c].common_first_year} or scored
        top = max(specialities.values())
        for cfd in [c for c, v in specialities.items() if v >= 0.75 * top]:
            f = self.formations[cfd]
            link = FormationLink(cfd, 1.0, "diplôme nommé par son sigle", f.common_first_year, self.links.formation_label(cfd))
            merge_link(out.formations, link)
            for other in self.links.successors_of(link).values():
                merge_link(out.formations, other)
        # The jobs these diplomas (and their renovations) lead to: both sources first, then Certif's rank.
        votes: dict[str, float] = defaultdict(float)
        for f in (self.formations[c] for c in out.formations if c in self.formations):
            for rank, rome in enumerate(f.romes):
                votes[rome] += 1.0 - 0.05 * rank
            for rome in self.links.onisep_romes_of(f.cfd):
                votes[rome] += 1.0
        # « magasinier pièces auto » names the old CAP vendeur-magasinier: of its jobs, the one the text names
        # (vendeur-magasinier en fournitures automobiles), not its first code (vendeur en épicerie).
        named = {r: naming(r) for r in votes}
        ranked = sorted((r for r in votes if r in self.rome_labels), key=lambda r: (-named[r], -votes[r], r))
        out.jobs, score = [], 1.0
        for r in ranked[:3]:  # scores in reading order: the first 1.0, then each at most the one before
            score = min(score, votes[r] / votes[ranked[0]])
            out.jobs.append(JobSense(r, self.rome_labels[r], round(score, 4), "diplôme nommé", self.links.is_taught(r)))
        out.status = "compris"
        return True

    def by_label(self, out: Understanding, typed: list[str], job_score: float, diploma: str | None = None) -> None:
        """A formation named in the text (« maintenance des véhicules », « CAP AEPE ») counts as such: every
        typed word a word of the diploma labels (« installateur panneaux solaires » names no diploma). With
        its type named too (« BTS maintenance des systèmes »), the diploma is what the company asks for,
        however well a job title also reads the words: it counts in full."""
        query = query_words(self.index, typed)
        if not all(qw.matches for qw in query):
            return
        for doc, score in self.index.score(query, min_coverage=0.99).items():
            cfd = self.cfds[doc]
            f = self.formations[cfd]
            named = bool(diploma) and f.diploma.startswith(diploma or "") and score >= FORMATION_MIN
            if score < max(FORMATION_MIN, job_score) and not named:
                continue
            link = FormationLink(cfd, 1.0 if named else min(1.0, score), "intitulé du diplôme", f.common_first_year,
                                 self.links.formation_label(cfd))
            merge_link(out.formations, link)
            for rlink in self.links.successors_of(link).values():
                merge_link(out.formations, rlink)
            if not out.jobs and f.romes:
                rome = f.romes[0]
                out.jobs = [JobSense(rome, self.rome_labels.get(rome, rome), round(score, 4), f.label,
                                     self.links.is_taught(rome))]

    def jobs_exactly_named(self, typed: list[str], diploma: str) -> frozenset[str]:
        """« CAP cuisine »: the jobs (ROME codes, both sources, renovations included) of the diplomas of that
        type whose label is the text exactly; empty when none is."""
        query = query_words(self.index, typed)
        if not query or not all(qw.matches for qw in query):
            return frozenset()
        named = [self.cfds[doc] for doc, score in self.index.score(query, min_coverage=0.99).items()
                 if score >= EXACT_LABEL and self.formations[self.cfds[doc]].diploma.startswith(diploma)]
        family = {c for cfd in named for c in (cfd, *self.links.renovations.of(cfd))}
        return frozenset(rome for c in family if c in self.formations
                         for rome in (*self.formations[c].romes, *self.links.onisep_romes_of(c)))

    def by_keywords(self, out: Understanding, query: list[QueryWord]) -> None:
        """Last resort for vague text: formations whose keywords hold every typed word."""
        sets = [set().union(*(self.keyword_cfds.get(s, ()) for s in {qw.stem, *qw.matches})) for qw in query]
        common = set.intersection(*sets) if sets else set()
        for cfd in sorted(common)[:20]:
            f = self.formations.get(cfd)
            if f is None or f.closed:
                continue
            merge_link(out.formations, FormationLink(cfd, 0.5, "mots-clés du diplôme", f.common_first_year,
                                                     self.links.formation_label(cfd)))

    def prefer(self, out: Understanding, diploma: str) -> None:
        """« CAP boulanger »: the CAP keeps its weight, other diplomas of the job count a little less."""
        named = {c for c in out.formations if self.formations.get(c) and self.formations[c].diploma.startswith(diploma)}
        if not named:
            return
        for cfd, link in list(out.formations.items()):
            if cfd not in named:
                out.formations[cfd] = link.scaled(0.8)
