"""job_cases.csv and the held-out job_cases_holdout.csv are well-formed: columns, codes that exist, located
communes, patterns that match. The size and stratification minimums apply to the main set; the held-out set
(written separately, never used to tune the resolver) must cover every domain and kind."""

from __future__ import annotations

import csv
import re
from collections import Counter

import pytest

from shared.reference.geo import DATA_DIR, load_communes
from tests.quality.cases import (
    BIG_DOMAINS,
    CASES_CSV,
    COLUMNS,
    DOMAINS,
    HOLDOUT_CSV,
    KINDS,
    MIN_PER_BIG_DOMAIN,
    MIN_PER_DOMAIN,
    MIN_PER_KIND,
    OVERSEAS_DEPTS,
    csv_formation_keys,
    load_cases,
)

CASES = load_cases()
FILES = [CASES_CSV, HOLDOUT_CSV]
MIN_HOLDOUT = 80


def rome_codes() -> set[str]:
    with open(DATA_DIR / "rome.csv", encoding="utf-8", newline="") as fh:
        return {row["code_rome"] for row in csv.DictReader(fh)}


@pytest.fixture(params=FILES, ids=lambda p: p.name)
def cases_file(request):
    return request.param


def test_header_and_size():
    with open(CASES_CSV, encoding="utf-8", newline="") as fh:
        assert next(csv.reader(fh)) == COLUMNS
    assert len(CASES) >= 200


def test_holdout_header_size_and_coverage():
    with open(HOLDOUT_CSV, encoding="utf-8", newline="") as fh:
        assert next(csv.reader(fh)) == COLUMNS
    holdout = load_cases(HOLDOUT_CSV)
    assert len(holdout) >= MIN_HOLDOUT
    assert {c.domain for c in holdout} == DOMAINS
    assert {c.kind for c in holdout} == KINDS


def test_holdout_does_not_repeat_main_cases():
    main = {(c.text.casefold(), c.commune_insee) for c in CASES}
    assert [c.line for c in load_cases(HOLDOUT_CSV) if (c.text.casefold(), c.commune_insee) in main] == []


def test_fields_are_filled_and_known(cases_file):
    for case in load_cases(cases_file):
        assert case.text.strip(), case.line
        assert case.domain in DOMAINS, (case.line, case.domain)
        assert case.kind in KINDS, (case.line, case.kind)
        assert case.romes, case.line
        assert case.patterns, case.line


def test_no_duplicate_case(cases_file):
    counts = Counter((c.text, c.commune_insee) for c in load_cases(cases_file))
    assert [k for k, n in counts.items() if n > 1] == []


def test_every_rome_code_exists(cases_file):
    known = rome_codes()
    unknown = [(c.line, code) for c in load_cases(cases_file) for code in c.romes if code not in known]
    assert unknown == []


def test_every_commune_exists_with_coordinates(cases_file):
    communes = load_communes()
    for case in load_cases(cases_file):
        commune = communes.by_insee.get(case.commune_insee)
        assert commune is not None, (case.line, case.commune_insee)
        assert commune.latitude is not None and commune.longitude is not None, (case.line, case.commune_insee)


def test_outre_mer_rows_and_only_them_are_overseas(cases_file):
    communes = load_communes()
    for case in load_cases(cases_file):
        overseas = communes.by_insee[case.commune_insee].departement in OVERSEAS_DEPTS
        assert overseas == (case.domain == "outre_mer"), (case.line, case.domain, case.commune_insee)


def test_every_pattern_compiles_and_matches_a_formation(cases_file):
    keys = list(csv_formation_keys().values())
    for case in load_cases(cases_file):
        for raw in case.patterns:
            pattern = re.compile(raw)
            assert any(pattern.search(k) for k in keys), (case.line, case.text, raw)


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_domain_minimum(domain: str):
    minimum = MIN_PER_BIG_DOMAIN if domain in BIG_DOMAINS else MIN_PER_DOMAIN
    assert sum(c.domain == domain for c in CASES) >= minimum


@pytest.mark.parametrize("kind", sorted(MIN_PER_KIND))
def test_kind_minimum(kind: str):
    assert sum(c.kind == kind for c in CASES) >= MIN_PER_KIND[kind]


def test_child_fiche_rows_name_a_child_fiche(cases_file):
    with open(DATA_DIR / "rome.csv", encoding="utf-8", newline="") as fh:
        children = {row["code_rome"] for row in csv.DictReader(fh) if row["code_rome"] != row["code_rome_parent"]}
    for case in load_cases(cases_file):
        if case.kind == "child_fiche":
            assert case.romes & children, (case.line, case.text)
