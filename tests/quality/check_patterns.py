"""Review the formation patterns of job_cases.csv against data/formations.csv.

    .venv/bin/python -m tests.quality.check_patterns [--show] [--text boulanger]

For every case: patterns matching nothing (an error), matches on common first-year codes or labels
("2nde commune", "1re année", "sec pro ag": a warning, they should not count as training for the job),
accepted formations that no lycée teaches (a warning: often a label spelt otherwise than the pattern
expects), and with --show the folded labels each case accepts with the number of lycées teaching
them (data/lycee_formations.csv), to review by eye that nothing absurd is accepted.
Exit status 1 when a pattern does not compile or matches nothing.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections import defaultdict

from shared.reference.geo import DATA_DIR
from tests.quality.cases import csv_formation_keys, load_cases, tronc_commun_cfds

COMMON_YEAR = re.compile(r"2nde commune|1ere annee|sec pro ag|2nde professionnelle")


def lycees_per_cfd() -> dict[str, int]:
    with open(DATA_DIR / "lycee_formations.csv", encoding="utf-8", newline="") as fh:
        uais: dict[str, set[str]] = defaultdict(set)
        for row in csv.DictReader(fh):
            uais[row["cfd"]].add(row["uai"])
    return {cfd: len(u) for cfd, u in uais.items()}


def check(show: bool, text: str | None) -> int:
    keys = csv_formation_keys()
    tronc = tronc_commun_cfds()
    taught = lycees_per_cfd()
    errors = 0
    for case in load_cases():
        if text and text.lower() not in case.text.lower():
            continue
        accepted: set[str] = set()
        for raw in case.patterns:
            try:
                pattern = re.compile(raw)
            except re.error as exc:
                print(f"ERROR line {case.line} {case.text!r}: pattern {raw!r} does not compile: {exc}")
                errors += 1
                continue
            found = {cfd for cfd, key in keys.items() if pattern.search(key)}
            if not found:
                print(f"ERROR line {case.line} {case.text!r}: pattern {raw!r} matches no formation")
                errors += 1
            accepted |= found
        common = sorted(c for c in accepted if c in tronc or COMMON_YEAR.search(keys[c]))
        for cfd in common:
            print(f"WARN  line {case.line} {case.text!r}: accepts common year {cfd} {keys[cfd]!r}")
        if accepted and not any(taught.get(c) for c in accepted):
            print(f"WARN  line {case.line} {case.text!r}: no lycée teaches any accepted formation")
        if show:
            print(f"--- line {case.line} {case.text!r} [{case.domain}/{case.kind}] romes={sorted(case.romes)} "
                  f"{len(accepted)} formations")
            for cfd in sorted(accepted, key=lambda c: keys[c]):
                print(f"      {taught.get(cfd, 0):>4} lycées  {cfd}  {keys[cfd]}")
    print(f"{errors} error(s)")
    return 1 if errors else 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--show", action="store_true", help="list the formations each case accepts")
    parser.add_argument("--text", help="only the cases whose text contains this")
    args = parser.parse_args()
    sys.exit(check(args.show, args.text))


if __name__ == "__main__":
    main()
