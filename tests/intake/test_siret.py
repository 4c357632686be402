"""Intake's own SIRET check gives python-stdnum's answer on every 14-digit string."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.fr import siret as reference

from services.intake.service.siret import siret_is_valid

DIGITS = st.text(alphabet="0123456789", min_size=14, max_size=14)


@settings(max_examples=3000, deadline=None)
@given(DIGITS)
def test_any_fourteen_digits(digits: str) -> None:
    assert siret_is_valid(digits) == reference.is_valid(digits)


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet="0123456789", min_size=5, max_size=5))
def test_la_poste_establishments(nic: str) -> None:
    digits = "356000000" + nic
    assert siret_is_valid(digits) == reference.is_valid(digits)


def test_known_numbers() -> None:
    assert siret_is_valid("73282932000074")  # valid Luhn on both SIREN and SIRET
    assert not siret_is_valid("73282932000075")
    assert siret_is_valid("35600000000048")  # La Poste's head office: Luhn
    assert siret_is_valid("35600000049837")  # a La Poste establishment: digit sum a multiple of 5
    assert not siret_is_valid("35600000049838")
