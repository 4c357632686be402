"""Words of a job as people type them (shared.reference.jobs.text and shared.reference.jobs.index): pure functions."""

from __future__ import annotations

import pytest

from shared.reference.jobs.index import WordIndex, related_stems
from shared.reference.jobs.text import fold, masculine, stem, stems


@pytest.mark.parametrize("typed, indexed", [
    ("boulangère", "boulanger"), ("Boulangères", "Boulanger"), ("électriciennes", "électricien"),
    ("aide-soignante", "aide-soignant"), ("coiffeuse", "coiffeur"), ("conductrice", "conducteur"),
    ("cuisinière", "cuisinier"), ("serveuses", "serveur"), ("employée", "employé"), ("maçonne", "maçon"),
    ("caristes", "cariste"), ("ELECTRICIENS", "électricien"),
])
def test_gender_plural_case_and_accents_fall_on_one_stem(typed, indexed):
    assert stems(typed) == stems(indexed)


def test_folding_opens_ligatures_and_drops_accents_and_hyphens():
    assert fold("Chef-d'œuvre ÉTÉ") == "chef d oeuvre ete"
    assert masculine("vendeuse") == "vendeur"


def test_a_shop_is_not_a_warehouse_words_not_prefixes():
    assert stem("magasin") != stem("magasinier")
    index = WordIndex(["Magasinier / Magasinière", "Vendeur / Vendeuse en magasin"])
    found = index.score([index.query_word("magasin")])
    assert max(found, key=found.get) == 1


def test_word_families_are_related_but_distinct_words_are_not():
    assert related_stems(stem("boulanger"), stem("boulangerie"))
    assert related_stems(stem("menuisier"), stem("menuiserie"))
    assert not related_stems(stem("vente"), stem("ventilation"))


def test_a_typo_is_corrected_to_an_indexed_word():
    index = WordIndex(["Électricien / Électricienne du bâtiment", "Plaquiste", "Plagiste"])
    word = index.query_word("electricein")
    assert not word.known and word.corrections[0] == "electricien"
    assert stem("electricien") in word.matches
    typo = index.query_word("placiste")  # two close words: both kept, the caller ranks them
    assert {"plaquiste", "plagiste"} <= set(typo.corrections)


def test_rare_words_weigh_more_than_common_ones():
    index = WordIndex(["Agent de sécurité", "Agent d'entretien", "Agent de quai", "Boulanger"])
    assert index.idf[stem("boulanger")] > index.idf[stem("agent")]
    found = index.score([index.query_word("agent"), index.query_word("quai")])
    assert max(found, key=found.get) == 2


def test_a_title_mostly_made_of_the_typed_words_wins_over_a_long_one():
    index = WordIndex(["Soudeur / Soudeuse", "Soudeur / Soudeuse plastique en industrie automobile"])
    found = index.score([index.query_word("soudeur")])
    assert found[0] > found[1]


def test_an_unknown_word_is_left_out_of_the_score_instead_of_sinking_it():
    index = WordIndex(["Chauffeur / Chauffeuse poids lourd", "Boulanger"])
    found = index.score([index.query_word("chauffeur"), index.query_word("zzzzqx")])
    assert found[0] == pytest.approx(index.score([index.query_word("chauffeur")])[0])
