"""A text that names a ROME domain (« transport », « industrie », « métiers du bâtiment ») better than any
job: it stands for the domain's jobs lycées train for most, said vague. See docs/job-vocabulary.md."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from functools import lru_cache

from shared.reference.jobs.index import WordIndex
from shared.reference.jobs.links import JobLinks
from shared.reference.jobs.titles import JobTitles
from shared.reference.jobs.typed import query_words
from shared.reference.jobs.understanding import JobSense
from shared.reference.jobs.vocabulary import CompactFormation, CompactJob

DOMAIN_MIN = 0.5  # a domain's label that covers the text this well stands for the domain (« transport »)
DOMAIN_JOB_MAX = 0.75  # a job title matching the text this well is what it means, whatever domain it names


class Domains:
    def __init__(self, jobs: list[CompactJob], titles: JobTitles, links: JobLinks,
                 formations: Mapping[str, CompactFormation], taught_counts: Mapping[str, int]) -> None:
        by_label: dict[str, list[str]] = defaultdict(list)  # « Transport et Logistique » -> its fiches
        for j in jobs:
            for label in (j.domain_label, j.grand_domain):
                if label:
                    by_label[label].append(j.rome)
        self.labels = list(by_label)
        self.romes = [by_label[label] for label in self.labels]
        self.index = WordIndex(self.labels)
        self.titles = titles
        self.links = links
        self.formations = formations
        self.taught_counts = taught_counts
        self._jobs = lru_cache(maxsize=None)(self._jobs_uncached)

    def senses(self, typed: list[str], best_job: float) -> list[JobSense]:
        """The domain's jobs when the text names a domain better than ``best_job`` names a job."""
        if not typed or len(typed) > 3 or best_job >= DOMAIN_JOB_MAX:
            return []
        query = query_words(self.index, typed)
        if not all(qw.matches for qw in query):
            return []  # « installateur photovoltaïque » names more than a domain
        found = self.index.score(query, min_coverage=0.99)
        if not found:
            return []
        doc = max(found, key=lambda d: (found[d], -len(self.romes[d])))
        score = min(found[doc], 0.95)
        if score < DOMAIN_MIN or score <= best_job:
            return []
        label = self.labels[doc]
        # Among the domain's jobs, those a title of which holds a typed word first (« transport »: the
        # drivers of « conducteur de transport routier » before the domain's warehouse jobs).
        typed_stems = {s for qw in query for s in qw.matches}
        jobs = self._jobs(doc)
        named = [r for r in jobs if typed_stems & self.titles.stems_of(r)]
        jobs = named + [r for r in jobs if r not in named]
        return [JobSense(rome, self.titles.rome_labels[rome], round(score * (1 - 0.02 * i), 4), label, True)
                for i, rome in enumerate(jobs[:5])]

    def _jobs_uncached(self, doc: int) -> list[str]:
        """The domain's jobs, those the most lycées' CAP and bac pro train for first (no emploi cadre)."""
        def taught_at_lycee(rome: str) -> int:
            return sum(self.taught_counts.get(c, 0) for c, link in self.links.for_rome(rome).items()
                       if link.weight >= 0.75 and (self.formations[c].level or 9) <= 4 and not link.common_first_year)
        ranked = [(taught_at_lycee(r), r) for r in self.romes[doc] if not self.links.jobs[r].executive]
        return [r for n, r in sorted(ranked, key=lambda t: (-t[0], t[1])) if n > 0]
