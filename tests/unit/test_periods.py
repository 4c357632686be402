"""French periods (shared.reference.periods): what RBEs and companies type, read into school-year ranges."""

from __future__ import annotations

import pytest

from shared.reference.periods import PeriodError, fit_sentence, parse_period


@pytest.mark.parametrize(("typed", "french", "code"), [
    ("mars", "mars", "03-01/03-31"),
    ("du 2 au 27 mars", "du 2 au 27 mars", "03-02/03-27"),
    ("Du 12 janvier au 6 février", "du 12 janvier au 6 février", "01-12/02-06"),
    ("12/01 au 06/02", "du 12 janvier au 6 février", "01-12/02-06"),
    ("de mars à juin 2027", "de mars à juin", "03-01/06-30"),
    ("mars-avril", "de mars à avril", "03-01/04-30"),
    ("entre mars et mai", "de mars à mai", "03-01/05-31"),
    ("mi-mars", "du 11 au 20 mars", "03-11/03-20"),
    ("à partir d'avril", "d'avril à juin", "04-01/06-30"),
    ("mars et mai", "mars et mai", "03-01/03-31;05-01/05-31"),
    ("03/2027", "mars", "03-01/03-31"),
    ("2027-03-02", "le 2 mars", "03-02/03-02"),
    ("décembre à février", "de décembre à février", "12-01/02-28"),
])
def test_periods_are_read_in_french(typed, french, code):
    period = parse_period(typed)
    assert period is not None and period.french() == french and period.code() == code


def test_overlaps_ignore_the_year_and_cross_the_new_year():
    pfmp = parse_period("du 2 au 27 mars")
    assert parse_period("mars 2027").overlaps(pfmp) and not parse_period("juillet").overlaps(pfmp)
    assert parse_period("janvier").overlaps(parse_period("décembre à février"))
    assert fit_sentence(parse_period("mars"), ["1re", "tle"]) == "vos dates (mars) tombent pendant la PFMP des 1re et des Terminale"


def test_nothing_to_read_and_strict_refusals():
    assert parse_period("dès que possible") is None and parse_period("") is None
    with pytest.raises(PeriodError, match="Date impossible"):
        parse_period("31 février", strict=True)
    with pytest.raises(PeriodError, match="Précisez le mois"):
        parse_period("du 2 au 27", strict=True)


def test_the_free_text_of_before_is_read_per_class():
    from services.catalog.service.profile import legacy_periods

    rows = legacy_periods("2de du 12 janvier au 6 février ; 1re du 2 au 27 mars\nTerminale : mai ; à voir")
    assert [(r.classe, r.ranges) for r in rows] == [("2de", "01-12/02-06"), ("1re", "03-02/03-27"), ("tle", "05-01/05-31")]
