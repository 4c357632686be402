"""Unit tests of intake's plain logic (no app, no network)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.intake.service.form import form_field, resolve_place
from services.intake.service.impact import french_duration
from services.intake.service.validation import InvalidRequest, parse_request, qualify
from shared.contracts.email_address import check_email
from shared.platform.ratelimit import SlidingWindowLimiter
from shared.reference.geo import load_communes
from tests.intake.support import body


@pytest.fixture(scope="module")
def communes():
    return load_communes()


def test_sliding_window_limiter_forgets_old_hits():
    limiter = SlidingWindowLimiter(limit=2, window_s=10)
    assert [limiter.hit("a", now=t) for t in (0, 1, 2)] == [True, True, False]
    assert limiter.hit("b", now=2)  # per key
    assert limiter.hit("a", now=10.5)  # the first hit left the window


def test_limiter_memory_is_bounded():
    limiter = SlidingWindowLimiter(limit=1, window_s=10, max_keys=100)
    for i in range(1000):
        limiter.hit(f"ip{i}", now=float(i))
    assert len(limiter._hits) <= 100


@pytest.mark.parametrize(("typed", "insee", "expected"), [
    ("69007", "", {"postal_code": "69007"}),
    ("Lyon 7e Arrondissement (69007)", "", {"commune_insee": "69387", "postal_code": "69007"}),
    ("Lyon 7e Arrondissement (69007)", "69387", {"commune_insee": "69387", "postal_code": "69007"}),
    ("ampuis", "", {"commune_insee": "69007", "postal_code": "69420"}),
    ("Atlantide", "", {"commune_insee": "?"}),
    ("", "", None),
    ("Paris (75001)", "69387", {"commune_insee": "75056", "postal_code": "75001"}),  # stale hidden code ignored
])
def test_resolve_place(communes, typed, insee, expected):
    assert resolve_place(typed, insee, communes) == expected


def test_form_field_mapping():
    assert form_field("contact.email") == "email"
    assert form_field("location.postal_code") == "lieu"
    assert form_field("jobs.2") == "metiers"
    assert form_field("needs.0") == "besoins"
    assert form_field("whatever") == "formulaire"


def test_qualify_normalises_identifiers(communes):
    q = qualify(parse_request(body(siret="732 829 320 00074", naf="1071c",
                                   contact__email="Jeanne.Martin@Boulangerie-Dupont.FR")), communes)
    assert q.siret == "73282932000074" and q.naf == "10.71C"
    assert q.email == "jeanne.martin@boulangerie-dupont.fr"
    assert q.commune.insee == "69387" and q.academie == "Lyon"


def test_qualify_corsica_and_overseas(communes):
    assert qualify(parse_request(body(location={"postal_code": "20000"})), communes).commune.departement == "2A"
    assert qualify(parse_request(body(location={"postal_code": "97400"})), communes).commune.departement == "974"


def test_insee_and_postal_code_together(communes):
    q = qualify(parse_request(body(location={"postal_code": "69007", "commune_insee": "69387"})), communes)
    assert q.commune.name == "Lyon 7e Arrondissement"
    with pytest.raises(InvalidRequest) as exc:
        qualify(parse_request(body(location={"postal_code": "69007", "commune_insee": "00000"})), communes)
    assert [e.field for e in exc.value.errors] == ["location.commune_insee"]


def test_email_checks_need_no_network():
    assert check_email("contact@mairie.fr") == ("contact@mairie.fr", None)
    assert check_email("contact@localhost")[1] == "Le domaine de l'adresse électronique (après le @) n'est pas valide."
    assert check_email("con tact@mairie.fr")[1] == "L'adresse électronique n'est pas valide (ex. prenom.nom@entreprise.fr)."


_LOCAL_CHARS = "abcXYZ019.-_+!#$%&'*/=?^`{|}~ @\"éß"


@settings(max_examples=400, deadline=None)
@given(local=st.text(alphabet=_LOCAL_CHARS, min_size=0, max_size=70),
       domain=st.sampled_from(["mairie.fr", "Boulangerie-Dupont.FR", "gmial.com", "yopmail.com", "localhost",
                               "exemple", "a" * 250 + ".fr", "xn--bcher-kva.fr", "bücher.fr"]))
def test_an_address_on_a_domain_already_accepted_gets_the_full_check_answer(local, domain):
    """check_email skips the domain rules for a domain it accepted before: same answer as the full check."""
    from shared.contracts.email_address import _check_email

    check_email("contact@" + domain)  # the domain is now known (when it is accepted)
    address = f"{local}@{domain}"
    assert check_email(address) == _check_email(address)


@pytest.mark.parametrize(("hours", "said"), [
    (None, "—"), (0.1, "6 min"), (0.001, "1 min"), (0.5, "30 min"), (1.0, "1 h"), (2.5, "2,5 h"), (47.9, "47,9 h"),
    (72.0, "3 j"), (60.0, "2,5 j"),
])
def test_delays_read_as_people_say_them(hours, said):
    """Issue 17: the impact page showed « 0.1 h »."""
    assert french_duration(hours) == said
