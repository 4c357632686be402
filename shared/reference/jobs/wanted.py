"""What a request asks for, resolved once, and how relevant a lycée's offer is to it (0..1).

The same function scores a lycée on the catalog's search page and in the matcher's routing, so the
lycées a company sees for a job are the ones its request goes to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from shared.reference.jobs.links import FormationLink
from shared.reference.jobs.resolver import JobResolver
from shared.reference.jobs.understanding import Understanding

INFERRED_OFFER = 0.8  # a speciality inferred from a lycée's "2nde commune" (its family), not listed


@dataclass(slots=True)
class Wanted:
    understood: list[Understanding]
    per_job: list[dict[str, FormationLink]]  # one map per typed job (or the sector)
    cfd_weights: dict[str, float]  # best weight of each formation over the jobs
    from_sector: bool
    unresolved_jobs: list[str] = field(default_factory=list)

    @property
    def romes(self) -> list[str]:
        out: list[str] = []
        for u in self.understood:
            out.extend(r for r in u.romes if r not in out)
        return out

    def specific_cfds(self) -> list[str]:
        return [c for c, links in self._any_link().items() if not links.common_first_year]

    def first_year_cfds(self) -> list[str]:
        return [c for c, links in self._any_link().items() if links.common_first_year]

    def _any_link(self) -> dict[str, FormationLink]:
        out: dict[str, FormationLink] = {}
        for links in self.per_job:
            for cfd, link in links.items():
                out.setdefault(cfd, link)
        return out


def resolve_wanted(resolver: JobResolver, jobs: list[str], naf: str | None) -> Wanted:
    understood = resolver.understand_request(jobs, naf)
    unresolved = [u.text for u in understood if u.status == "inconnu"]
    if jobs and len(unresolved) == len(jobs) and naf:
        # Nothing typed was understood: the sector is better than nothing, and says so.
        understood = resolver.understand_request([], naf)
    per_job = [u.formations for u in understood if u.formations]
    weights: dict[str, float] = {}
    for links in per_job:
        for cfd, link in links.items():
            weights[cfd] = max(weights.get(cfd, 0.0), link.weight)
    return Wanted(understood=understood, per_job=per_job, cfd_weights=weights,
                  from_sector=bool(understood) and all(u.from_sector for u in understood), unresolved_jobs=unresolved)


def offer_relevance(wanted: Wanted, offered: Mapping[str, object], *, first_year: bool,
                    factor: Callable[[str], float] = lambda cfd: 1.0) -> tuple[float, set[str]]:
    """(relevance 0..1, formations that made it): the mean over typed jobs of the best weighted
    formation the lycée offers for each; a "2nde commune" counts only when ``first_year``."""
    if not wanted.per_job:
        return 0.0, set()
    total = 0.0
    matched: set[str] = set()
    for links in wanted.per_job:
        best = 0.0
        if len(links) < len(offered):
            common = [c for c in links if c in offered]
        else:
            common = [c for c in offered if c in links]
        for cfd in common:
            link = links[cfd]
            if link.common_first_year and not first_year:
                continue
            w = link.weight * factor(cfd)
            if w > 0:
                matched.add(cfd)
                best = max(best, w)
        total += best
    return total / len(wanted.per_job), matched
