"""Quality of the form's job autocomplete on the labelled cases of tests/quality/job_cases.csv.

    .venv/bin/python -m tests.quality.suggest_eval [--cases tests/quality/job_cases.csv]

A company types its job letter by letter: for each case whose text names a job (not a sector, a ROME code,
nor a text said vague or unknown), the text cut after 4, 6 and 8 characters and whole is given to the
autocomplete, and the rank of the first suggestion of one of the case's expected ROME fiches is read.
Prints, per cut, the share of texts with such a suggestion first, in the first 3 and in the 8 the form
shows. Each distinct (text, expected fiches) counts once: « électricien » and « électriciens » cut at
4 characters are one text. Typos and free text are beyond an autocomplete: the whole-text row is a ceiling.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.routing import real_snapshot
from services.matcher.service import CatalogReadModel
from tests.quality.cases import CASES_CSV, JobCase, load_cases

CUTS: tuple[int | None, ...] = (4, 6, 8, None)
SHOWN = 8
NOT_A_JOB_NAME = {"naf", "sector", "vague", "unknown", "rome"}


def texts_by_cut(cases: list[JobCase]) -> dict[int | None, list[tuple[str, frozenset[str]]]]:
    out: dict[int | None, list[tuple[str, frozenset[str]]]] = {cut: [] for cut in CUTS}
    seen: set[tuple[str, frozenset[str]]] = set()
    for case in cases:
        if not case.romes or case.kind in NOT_A_JOB_NAME:
            continue
        for cut in CUTS:
            if cut is not None and len(case.text) <= cut:
                continue
            key = (case.text if cut is None else case.text[:cut], case.romes)
            if key not in seen:
                seen.add(key)
                out[cut].append(key)
    return out


def first_rank(model: CatalogReadModel, text: str, romes: frozenset[str]) -> int | None:
    return next((i for i, s in enumerate(model.resolver.suggest(text, limit=SHOWN)) if s.rome in romes), None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=Path, default=CASES_CSV)
    args = parser.parse_args(argv)
    model = CatalogReadModel(real_snapshot())
    print(f"| typed | texts | expected job first | in the first 3 | in the {SHOWN} shown |")
    print("|---|---:|---:|---:|---:|")
    for cut, texts in texts_by_cut(load_cases(args.cases)).items():
        ranks = [first_rank(model, text, romes) for text, romes in texts]
        share = {k: 100 * sum(r is not None and r < k for r in ranks) / max(1, len(ranks)) for k in (1, 3, SHOWN)}
        name = "whole text" if cut is None else f"first {cut} characters"
        print(f"| {name} | {len(ranks)} | {share[1]:.1f} % | {share[3]:.1f} % | {share[SHOWN]:.1f} % |")


if __name__ == "__main__":
    main()
