"""Does routing decide the same thing whatever Python's string-hash seed is?

    PYTHONHASHSEED=1 .venv/bin/python -m tests.quality.determinism [--limit N]

Routes every labelled case of tests/quality/job_cases.csv on the real catalog and prints one line per
case (line number, understood jobs, recipient lycées in order) and a digest of them all. Two runs
under different seeds must print the same digest: a set iterated somewhere on the way from the typed
job to the recipients would make the same request go to other lycées after a restart.
"""

from __future__ import annotations

import argparse
import hashlib

from bench.routing import real_snapshot
from services.matcher.service import CatalogReadModel
from shared.reference.geo import load_communes
from tests.quality.cases import load_cases
from tests.quality.job_eval import route


def decisions(limit: int | None) -> list[str]:
    model = CatalogReadModel(real_snapshot())
    communes = load_communes()
    lines = []
    for case in load_cases()[:limit]:
        decision = route(model, case.text, communes.by_insee[case.commune_insee])
        recipients = ",".join(f"{r.role}:{'+'.join(r.uais)}" for r in decision.recipients)
        lines.append(f"{case.line}\t{','.join(decision.romes)}\t{recipients}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    lines = decisions(args.limit)
    print("\n".join(lines))
    print("digest", hashlib.sha256("\n".join(lines).encode()).hexdigest(), len(lines))


if __name__ == "__main__":
    main()
