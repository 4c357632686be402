"""SIRET check digits (Luhn, and La Poste's own rule), for 14 ASCII digits already checked by the caller.

python-stdnum's ``siret.is_valid`` does the same but compacts, re-checks the digits and builds tuples on
each call: 4 % of intake's CPU per accepted request. ``tests/intake/test_siret.py`` holds this one to
python-stdnum's answers.
"""

from __future__ import annotations

# The Luhn value of a digit at an even position from the right (doubled, its digits summed).
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)
# La Poste's establishments share SIREN 356000000; their NIC breaks Luhn, their digits sum to a multiple
# of 5 instead, except the head office which follows Luhn.
_LA_POSTE_SIREN = "356000000"
_LA_POSTE_HEAD_OFFICE = "35600000000048"


def _luhn_ok(digits: str) -> bool:
    total = 0
    doubled = False
    for ch in reversed(digits):
        value = ord(ch) - 48
        total += _DOUBLED[value] if doubled else value
        doubled = not doubled
    return total % 10 == 0


def siret_is_valid(digits: str) -> bool:
    """For a string of 14 ASCII digits: the SIREN's Luhn key, then the SIRET's (or La Poste's rule)."""
    if not _luhn_ok(digits[:9]):
        return False
    if digits.startswith(_LA_POSTE_SIREN) and digits != _LA_POSTE_HEAD_OFFICE:
        return sum(ord(ch) - 48 for ch in digits) % 5 == 0
    return _luhn_ok(digits)
