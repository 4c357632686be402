"""The pilot académies' pure decisions (shared.reference.pilot) and the live value's rules
(shared.platform.pilot_live.LivePilot.apply), with the real data/territoires.csv."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.platform.pilot_live import LivePilot
from shared.platform.settings import Settings
from shared.reference.geo import load_communes
from shared.reference.pilot import (
    Pilot,
    UnknownAcademie,
    academie_of,
    french_list,
    parse_pilot_from_data,
)


def test_names_and_codes_are_read_as_the_catalog_spells_them():
    pilot = parse_pilot_from_data(" lyon, Académie de Créteil ,10, AIX-MARSEILLE,")
    assert pilot.academies == ("Aix-Marseille", "Créteil", "Lyon")  # code 10 is Lyon: once
    assert parse_pilot_from_data("24").academies == ("Créteil",)
    assert parse_pilot_from_data("").everywhere


def test_an_unknown_academie_is_refused_in_french_with_every_mistake():
    with pytest.raises(UnknownAcademie) as refused:
        parse_pilot_from_data("Lyon,Gotham,Etranger")
    message = str(refused.value)
    assert "Académie(s) inconnue(s) dans la liste pilote : Gotham, Etranger." in message
    assert (
        "Académies connues : Aix-Marseille, Amiens," in message
    )  # pseudo-académies without communes are not


def test_the_setting_fails_fast_at_startup_and_is_normalised():
    with pytest.raises(ValidationError, match="Gotham"):
        Settings(pilot_academies="Lyon,Gotham")
    assert Settings(pilot_academies="creteil, lyon").pilot_academies == "Créteil,Lyon"
    assert Settings().pilot_academies == ""


def test_inside_outside_and_everywhere():
    pilot = Pilot(("Créteil", "Lyon"))
    assert pilot.includes("Lyon") and pilot.includes("académie de lyon")
    assert not pilot.includes("Grenoble")
    assert not pilot.includes(None)  # no académie: never guessed, the national team
    assert Pilot().includes("Grenoble") and Pilot().includes(None)
    assert pilot.notice("Lyon") is None and Pilot().notice("Grenoble") is None


def test_the_honest_notice_names_the_pilot_and_the_recipient():
    pilot = Pilot(("Aix-Marseille", "Créteil", "Lyon"))
    assert pilot.notice("Grenoble") == (
        "Le service s'ouvre d'abord dans les académies d'Aix-Marseille, de Créteil et de Lyon ; votre demande sera "
        "transmise à la personne référente entreprises de l'académie de Grenoble "
        "(à défaut, l'équipe nationale de MonLycéePro)."
    )
    assert Pilot(("Lyon",)).notice("Orléans-Tours") == (
        "Le service s'ouvre d'abord dans l'académie de Lyon ; votre demande sera transmise à la personne référente "
        "entreprises de l'académie d'Orléans-Tours (à défaut, l'équipe nationale de MonLycéePro)."
    )
    assert Pilot(("Lyon",)).notice(None) == (
        "Le service s'ouvre d'abord dans l'académie de Lyon ; votre demande sera transmise à "
        "l'équipe nationale de MonLycéePro."
    )
    assert french_list(["Lyon", "Amiens"]) == "de Lyon et d'Amiens"


def test_the_academie_comes_from_the_commune():
    communes = load_communes()
    assert academie_of(communes, "38000") == "Grenoble"
    assert academie_of(communes, "69007") == "Lyon"
    assert academie_of(communes, insee="94028") == "Créteil"
    assert academie_of(communes, "00000") is None


def test_the_live_value_follows_the_override_and_falls_back_to_the_setting():
    live = LivePilot(Pilot(("Lyon",)))
    assert live.apply("Grenoble,Lyon").academies == ("Grenoble", "Lyon") and live.overridden
    assert live.apply(b"").everywhere  # « pilot clear »: everywhere, not the setting
    assert live.apply(None) == Pilot(("Lyon",)) and not live.overridden  # key deleted: the setting
    live.apply("Créteil")
    assert live.apply("Gotham").academies == ("Créteil",)  # a hand-edited bad value: the last good one stays
