"""Renovated diplomas (BCN ``remplace_par_cfd``): a successor and its predecessor train for the same trade,
so a job link to one holds for the other (docs/job-vocabulary.md, « formations of a job »)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from functools import lru_cache

from shared.reference.jobs.vocabulary import CompactFormation

CHAIN = 3  # renovation chains are short


class Renovations:
    def __init__(self, formations: Mapping[str, CompactFormation]) -> None:
        self.formations = formations
        self.predecessors: dict[str, list[str]] = defaultdict(list)
        for f in formations.values():
            for s in f.successors:
                self.predecessors[s].append(f.cfd)
        self.of = lru_cache(maxsize=None)(self._of)

    def neighbours(self, cfd: str) -> list[str]:
        """The diploma's direct successors and predecessors."""
        f = self.formations.get(cfd)
        return [*(f.successors if f else ()), *self.predecessors.get(cfd, ())]

    def _of(self, cfd: str) -> frozenset[str]:
        """Every renovation of the diploma, both ways (chains of up to ``CHAIN``)."""
        seen = {cfd}
        frontier = [cfd]
        for _ in range(CHAIN):
            nxt = []
            for c in frontier:
                for other in self.neighbours(c):
                    if other not in seen:
                        seen.add(other)
                        nxt.append(other)
            frontier = nxt
        return frozenset(seen - {cfd})
