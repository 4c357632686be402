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


def test_words_stemmed_by_threads_at_once_keep_their_own_stems():
    # The catalog understands typed jobs on FastAPI's thread pool. Snowball's stemmer keeps the word it
    # works on in its fields: unguarded, two threads mixed their words (or raised IndexError), and
    # ``stem``'s cache kept the wrong key (« électriciennes » understood as « boulanger »).
    import sys
    import threading

    from shared.reference.jobs.text import clear_word_caches

    words = [f"{base}{suffix}" for base in ("boulang", "electrici", "plomb", "coiff", "menuis", "carrel", "cuisin",
                                            "soud", "serv", "conduct", "magasin", "vend", "charpent", "peint")
             for suffix in ("er", "ere", "eurs", "euse", "ien", "iennes", "age", "ations", "erie", "iste")]
    clear_word_caches()
    expected = {w: stem(w) for w in words}
    clear_word_caches()
    threads_count = 8
    barrier = threading.Barrier(threads_count)
    seen: list[dict[str, str]] = [{} for _ in range(threads_count)]
    errors: list[BaseException] = []

    def run(n: int) -> None:
        barrier.wait()
        try:
            for w in words[n:] + words[:n]:  # each thread in its own order: misses land at the same time
                seen[n][w] = stem(w)
        except BaseException as exc:  # an IndexError inside Snowball, unguarded
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: the race shows in every run
    try:
        threads = [threading.Thread(target=run, args=(n,)) for n in range(threads_count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    assert all(s == expected for s in seen)
    assert {w: stem(w) for w in words} == expected  # and the cache holds the right keys


@pytest.mark.parametrize("typed, read", [
    ("Électricien(ne)", ["electricien"]), ("un(e) cuisinier(e)", ["un", "cuisinier"]),
    ("vendeur.se", ["vendeur"]), ("conducteur·rice", ["conducteur"]), ("salarié·e·s", ["salarie"]),
    ("employé(e)s", ["employe"]), ("technicien.ne.s", ["technicien"]),
    ("M.E.L.E.C", ["melec"]), ("A.S.H.", ["ash"]),
    # Not endings: a dot between two words, a number, a word beginning with « e ».
    ("agt.entretien", ["agt", "entretien"]), ("permis C. 3.5 t", ["permis", "c", "3", "5", "t"]),
])
def test_gendered_endings_and_dotted_sigles_are_read_as_the_plain_word(typed, read):
    from shared.reference.jobs.text import words

    assert words(typed) == read


def test_a_craft_and_its_worker_are_one_family_as_good_as_the_trade_s_name():
    from shared.reference.jobs.index import RELATED_QUALITY, TRADE_QUALITY

    assert related_stems(stem("soudage"), stem("soudeur")) and related_stems(stem("élagage"), stem("élagueur"))
    assert not related_stems(stem("garage"), stem("gareur"))  # a root of three letters says nothing
    index = WordIndex(["Carreleur", "Vendeur en carrelage", "Chauffagiste", "Chauffeur", "Agent d'information"])
    carrelage = index.query_word("carrelage")
    assert carrelage.matches[stem("carreleur")] == TRADE_QUALITY
    assert index.query_word("chauffage").matches.get(stem("chauffeur"), 0) <= RELATED_QUALITY
    assert index.query_word("informatique").matches.get(stem("information"), 0) <= RELATED_QUALITY


def test_a_diploma_s_sigle_is_read_off_its_label_when_it_names_one_label_and_is_no_word():
    from shared.reference.jobs.sigles import label_sigles
    from shared.reference.jobs.vocabulary import CompactFormation

    def formation(cfd: str, label: str) -> CompactFormation:
        return CompactFormation(cfd, label, "BTS", 5, False, False, [], [], [])

    formations = [formation("1", "Management opérationnel de la sécurité"), formation("2", "Fluides, énergies, domotique"),
                  formation("3", "Maintenance des véhicules option A voitures"), formation("4", "Peintre applicateur de revêtements"),
                  formation("5", "Conduite routière marchandises"), formation("6", "Conseil relation marketing"),
                  formation("7", "Agent polyvalent de restauration"), formation("8", "Ingénierie des matériaux")]
    sigles = label_sigles(formations, taught={c.cfd for c in formations} - {"7"}, taken={"fed"})
    assert sigles["mos"] == "management operationnel de la securite"
    assert "fed" not in sigles  # already a word read otherwise
    assert "mv" not in sigles and "im" not in sigles  # options cut, and two letters say too little
    assert "par" not in sigles  # a stop word
    assert "crm" not in sigles  # two labels: neither
    assert "apr" not in sigles  # a diploma no lycée teaches



def test_an_earlier_diploma_s_sigle_is_read_too_and_a_taught_one_keeps_a_sigle_both_claim():
    from shared.reference.jobs.sigles import label_sigles
    from shared.reference.jobs.vocabulary import CompactFormation

    def formation(cfd: str, label: str) -> CompactFormation:
        return CompactFormation(cfd, label, "BTS", 5, cfd.startswith("old"), False, [], [], [])

    formations = [formation("old-muc", "Management des unités commerciales"),
                  formation("mco", "Management commercial opérationnel"),
                  formation("old-mco", "Métiers du commerce ordinaire"),
                  formation("old-other", "Négociation et relation client")]
    sigles = label_sigles(formations, taught={"mco"}, taken=set(), renamed={"old-muc", "old-mco"})
    assert sigles["muc"] == "management des unites commerciales"  # « BTS MUC », now MCO
    assert sigles["mco"] == "management commercial operationnel"  # the taught diploma's own, not the earlier one's
    assert "nrc" not in sigles  # replaced by no diploma taught today

def test_a_prefixed_compound_is_one_word_and_also_reaches_its_second_part():
    from shared.reference.jobs.index import COMPOUND_QUALITY
    from shared.reference.jobs.text import words

    assert words("agro-alimentaire") == words("agroalimentaire") == ["agroalimentaire"]
    assert words("boulangerie bio") == ["boulangerie", "bio"]  # a word beside another is not a prefix
    index = WordIndex(["Conducteur de ligne en industrie alimentaire", "Technico-commercial en agroalimentaire"])
    assert index.query_word("agroalimentaire").matches[stem("alimentaire")] == COMPOUND_QUALITY


def test_two_words_are_read_as_one_entry_where_the_pair_is_one():
    from shared.reference.jobs.typed import read_typed

    abbreviations = {"permis c": "poids lourd", "pl": "poids lourd"}
    assert read_typed("chauffeur permis C", abbreviations, frozenset({"permis c"})).words == \
        ["chauffeur", "poids", "lourd"]
    assert read_typed("permis de construire", abbreviations).words == ["permis", "construire"]  # no pair: as typed
