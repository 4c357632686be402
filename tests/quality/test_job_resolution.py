"""The one job resolver on the real vocabulary (data/ through the catalog's loader and snapshot)."""

from __future__ import annotations

import pytest

from shared.reference.jobs.text import fold

CAP_BOULANGER, CAPA_SAPVER = "50022137", "50321401"


@pytest.fixture(scope="module")
def resolver(real_catalog):
    return real_catalog.model.resolver


def taught(resolver, understanding) -> list[str]:
    links = sorted(understanding.formations.values(), key=lambda f: -f.weight)
    return [f.label for f in links if f.cfd in resolver.links.taught_cfds]


@pytest.mark.parametrize("text", ["boulanger", "Boulangère", "BOULANGERS", "boulangerie", "CAP boulanger", "D1102"])
def test_ways_of_writing_boulanger_resolve_to_the_trade(resolver, text):
    u = resolver.understand(text)
    assert u.romes[0] == "D1102" and u.status == "compris"
    assert CAP_BOULANGER in u.formations and u.formations[CAP_BOULANGER].weight == 1.0


def test_a_typo_is_understood_and_the_correction_offered(resolver):
    u = resolver.understand("boulangé")
    assert u.status == "corrige" and u.romes == ["D1102"] and u.correction == "boulanger"
    assert "Vouliez-vous dire « boulanger »" in u.message


def test_a_certif_info_link_onisep_disagrees_with_weighs_little(resolver):
    # Certif Info puts a CAPA « services aux personnes et vente en espace rural » first for Boulanger.
    link = resolver.understand("boulanger").formations.get(CAPA_SAPVER)
    assert link is None or link.weight < 0.5


@pytest.mark.parametrize("text, rome, word", [
    ("peintre automobile", "I1609", "peinture"),               # child fiche, parent I1606
    ("employé de restauration collective", "G1607", "restauration"),  # child fiche, parent G1603
    ("pizzaïolo", "G1604", "cuisine"),                          # a fiche with no diploma: its domain's
])
def test_child_fiches_reach_the_formations_lycees_teach(resolver, text, rome, word):
    u = resolver.understand(text)
    assert rome in u.romes
    assert any(word in label.lower() for label in taught(resolver, u)[:6]), taught(resolver, u)[:6]


def test_a_solar_installer_does_not_reach_roofing_first(resolver):
    u = resolver.understand("installateur photovoltaïque")
    assert u.romes[0] == "F1610"
    assert "couvreur" not in taught(resolver, u)[0].lower()


def test_a_shop_assistant_is_not_a_warehouse_picker(resolver):
    u = resolver.understand("vendeuse en magasin")
    assert not {"N1103", "N1110"} & set(u.romes)


@pytest.mark.parametrize("text, label", [
    ("MELEC", "électricité"), ("bac pro MELEC", "électricité"), ("CAP AEPE", "petite enfance"),
    ("ASSP", "soins et services"), ("bac pro SN", "cybersécurité"), ("bac pro OTM", "transport de marchandises"),
    ("bac pro AFB", "finition"), ("CAP AAGA", "grand"), ("bac pro TCB", "constructeur bois"),
    ("bac pro MEE", "efficacit"), ("CAP ECP", "esthétique"),
])
def test_sigles_name_their_diploma(resolver, text, label):
    u = resolver.understand(text)
    best = [f for f in u.formations.values() if f.weight >= 0.9]  # a renovated diploma (« SN » → CIEL) too
    assert any(label in f.label.lower() for f in best), [f.label for f in best]


def test_conductor_sigles_name_the_job(resolver):
    assert resolver.understand("chauffeur SPL").romes[0].startswith("N41")


@pytest.mark.parametrize("text, rome", [("placiste", "F1604"), ("cuisto", "G1602"), ("cuistot", "G1602")])
def test_a_job_name_in_jargon_is_read_as_the_job_not_as_a_diploma(resolver, text, rome):
    # « placiste » expands to « plaquiste »: a job, not the « MC plaquiste » a sigle would name.
    u = resolver.understand(text)
    assert rome in u.romes and all(j.via != "diplôme nommé" for j in u.jobs)


@pytest.mark.parametrize("text, rome", [("mécanicien vélo", "I1619"), ("vendeur vélo", "D1211"), ("menuisier alu", "F1607"),
                                        ("monteur pneus", "I1604"), ("agent de sécu", "K2503"),
                                        ("auxiliaire véto", "A1501")])
def test_a_common_word_for_the_trade_s_material_or_object_is_read(resolver, text, rome):
    # « vélo » (cycles), « alu » (aluminium), « pneus » (pneumatique): the words the ROME titles use for them.
    # No lycée trains for A1501 (its domain's only diploma was the farrier's CAPA, left out since): the taught
    # reading Certif Info gives « auxiliaire spécialisé vétérinaire » (vendeur en animalerie) comes first.
    romes = resolver.understand(text).romes
    assert romes[0] == rome if rome != "A1501" else rome in romes[:2]


@pytest.mark.parametrize("clipped, full", [("cariste manut", "cariste manutention"), ("agent de sécu", "agent sécurité")])
def test_a_clipped_word_beside_the_job_reads_as_the_full_word_not_as_a_diploma_s_sigle(resolver, clipped, full):
    # As a sigle, « manut » named the diploma whose option is « matériels de manutention » (« cariste » is in
    # no diploma label, so it was left out), a mechanic's; « sécu » named the CAP agent de sécurité alone,
    # which no lycée near Toulouse teaches, where the job names the bac pro too.
    clipped_reading, full_reading = resolver.understand(clipped), resolver.understand(full)
    assert clipped_reading.romes == full_reading.romes
    assert set(clipped_reading.formations) == set(full_reading.formations)


@pytest.mark.parametrize("text, same_as", [("apprenti boulanger", "boulanger"), ("un apprenti électricien", "électricien"),
                                           ("stagiaire en coiffure", "coiffure"), ("alternante comptable", "comptable"),
                                           ("apprenti MELEC", "MELEC")])
def test_how_the_company_takes_someone_on_is_not_read_as_a_job(resolver, text, same_as):
    # « apprenti » was matched as « apprêteur » (textile), « stagiaire » corrected to something else.
    assert resolver.understand(text).romes == resolver.understand(same_as).romes


def test_a_request_word_alone_names_no_job(resolver):
    assert resolver.understand("stagiaire").status == "inconnu"


def test_a_trade_s_object_is_not_read_as_the_trade_of_its_seller(resolver):
    # Snowball keys « cuisiniste » as « cuisine » and « machiniste » as « machine »: the -iste keeps its own key.
    assert resolver.understand("cuisine").romes[0].startswith("G16")
    assert "N4103" not in resolver.understand("conducteur de machine").romes[:1]  # a bus « conducteur machiniste »
    assert resolver.understand("cuisiniste").romes[0] == "D1212"


def test_cnc_is_read_as_numerical_control(resolver):
    assert resolver.understand("opérateur CNC").romes[0] == "H2903"


def test_a_job_s_own_title_is_that_job_whatever_its_level(resolver):
    # F1201 is an emploi cadre that ONISEP starts at bac + 3, but lycées' BTS train for it: its own title is
    # not read as « conducteur de travaux forestiers ».
    u = resolver.understand("conducteur de travaux")
    assert u.romes[0] == "F1201" and "32023107" in u.formations  # BTS travaux publics


@pytest.mark.parametrize("text, named, elsewhere", [
    ("menuisier", "H2206", "F1607"),  # H2206's label; an appellation of F1607 menuisier aluminium
    ("couvreur", "F1619", "F1610"),  # a ROME 4 child's label, kept by its parent as an appellation
    ("magasinier", "N1110", "N1103"),
])
def test_the_fiche_a_text_names_leads_the_fiche_that_only_bears_it_as_an_appellation(resolver, text, named,
                                                                                     elsewhere):
    u = resolver.understand(text)
    assert u.romes[0] == named
    assert elsewhere in u.romes  # still a reading, a lesser one
    assert u.formations  # and the diplomas of both


def test_a_word_for_the_person_is_not_read_as_the_trade(resolver):
    # « homme » is in few titles (« Homme / Femme de pied », a bûcheron): weighed as « agent », the trade
    # word decides.
    assert "I1203" in resolver.understand("homme d'entretien").romes  # agent d'entretien du bâtiment
    assert not {"A1201", "F1401"} & set(resolver.understand("homme de salle").romes)  # bûcheron, foreur
    assert resolver.understand("femme de chambre").romes[0] == "G1501"  # a title that holds it still names its job


def test_of_a_named_diploma_s_jobs_the_one_the_text_names_comes_first(resolver):
    # « auto » names the old CAP vendeur-magasinier en pièces de rechange et équipements automobiles; of its
    # jobs the text names the vendeur-magasinier (D1212), not the first code Certif Info gives (épicerie).
    assert resolver.understand("magasinier pièces auto").romes[0] == "D1212"
    # A sigle's own expansion names no job: AGORA keeps its diploma's first job.
    assert resolver.understand("AGORA").romes[0] == "D1401"


def test_a_long_text_is_read_on_its_rarest_word(resolver):
    # No title covers the text; « bricolage » names the trade, « conseiller de vente » only the role.
    u = resolver.understand("conseiller de vente en magasin de bricolage")
    assert u.romes[0] == "D1212"
    # « vente » is in no title of D1212: it no longer puts CAP employé de vente spécialisé (« vente » in its
    # label) before its renovation, CAP équipier polyvalent du commerce.
    assert u.formations["50031224"].weight == u.formations["50031216"].weight


PILOTE_DE_LIGNE, CAP_CERAMIQUE, BIO_INDUSTRIES = "40020102", "50022419", "40022003"


@pytest.mark.parametrize("text", ["opérateur de production", "opératrices de production", "agent de production",
                                  "conducteur de ligne"])
def test_a_role_many_trades_share_reaches_the_diplomas_they_have_in_common(resolver, text):
    # ROME spells « opérateur de production » once per trade (céramique, métaux, papier, industrie
    # alimentaire…): read title by title it was the céramique one, a principal title, and its CAP.
    u = resolver.understand(text)
    assert u.status == "vague"
    best = max(u.formations.values(), key=lambda f: f.weight).weight
    assert u.formations[PILOTE_DE_LIGNE].weight >= 0.8 * best
    assert CAP_CERAMIQUE not in u.formations or u.formations[CAP_CERAMIQUE].weight <= 0.5 * best


def test_a_role_with_no_diploma_its_trades_share_keeps_its_title_reading(resolver):
    # « agent de quai »: four trades hold both words, but no diploma a lycée teaches is common to three.
    u = resolver.understand("agent de quai")
    assert u.status == "compris" and u.romes[0] in {"N1106", "N1116"}


def test_the_company_s_sector_says_which_trade_a_shared_role_means(resolver):
    food = resolver.understand("opérateur de production", "10")  # industries alimentaires
    assert food.romes == ["H2102"] and BIO_INDUSTRIES in food.formations
    ceramics = resolver.understand("opérateur de production", "23")  # verre, céramique, matériaux
    assert ceramics.romes == ["H2803"] and CAP_CERAMIQUE in ceramics.formations
    retail = resolver.understand("opérateur de production", "47")  # no reading in the sector: the shared ones
    assert retail.status == "vague" and PILOTE_DE_LIGNE in retail.formations


def test_the_same_trade_under_another_role_word_shares_its_agreed_diplomas(resolver):
    # I1310 « Mécanicien de maintenance industrielle » and I1304 « Technicien de maintenance industrielle »:
    # I1310's own links are boat and engine diplomas; the bac pro MSPC both sources link to I1304 comes too.
    assert "I1304" in resolver.links.twins["I1310"]
    assert any("maintenance des syst" in label.lower() for label in taught(resolver, resolver.understand("mecanicien de maintenance"))[:8])


def test_a_diploma_is_named_only_by_words_of_diploma_labels(resolver):
    # « panneaux solaires » is in no diploma label: « installateur » alone does not name CAP menuisier installateur.
    u = resolver.understand("installateur panneaux solaires")
    assert all(link.why != "intitulé du diplôme" for link in u.formations.values())


def test_unknown_text_is_said_unknown_never_guessed(resolver):
    u = resolver.understand("xqzwv")
    assert u.status == "inconnu" and not u.formations
    assert u.message.startswith("Métier non reconnu")


def test_naf_reweights_typed_jobs_and_never_adds_one(resolver):
    plain = resolver.understand("vendeur")
    food = resolver.understand("vendeur", "10")  # industries alimentaires
    assert set(food.romes) <= set(r.rome for r in plain.jobs + plain.alternatives)
    assert resolver.sector("10").from_sector and resolver.sector("10").formations


def test_autocomplete_suggests_taught_jobs_first_from_a_prefix(resolver):
    found = resolver.suggest("boula")
    assert found and found[0].rome == "D1102" and found[0].taught


@pytest.mark.parametrize("typed, rome", [("cuisnier", "G1609"), ("boulnger", "D1102"), ("aide soignnat", "J1501"),
                                         ("plombiier", "F1603")])
def test_autocomplete_offers_the_job_a_mistyped_word_stands_for(resolver, typed, rome):
    # A typo begins no indexed word: the form offered nothing while the understanding read it right.
    found = resolver.suggest(typed)
    assert found and rome in {s.rome for s in found[:3]}, found[:3]
    assert not resolver.suggest("zzzzzz")


@pytest.mark.slow  # a sweep over every job title of the real data (~30 s)
def test_every_title_of_a_taught_job_reaches_a_taught_formation(resolver):
    """Coverage on the real data: a job title whose ROME (or a safe parent) maps to a formation a located
    lycée teaches, typed as written, reaches at least one taught formation."""
    titles = [t for t in resolver.titles if resolver.links.is_taught(t.rome)]
    missed = [(t.label, t.rome) for t in titles
              if not any(c in resolver.links.taught_cfds for c in resolver.understand(t.label).formations)]
    assert not missed, f"{len(missed)} of {len(titles)} titles reach no taught formation: {missed[:20]}"


def test_a_domain_named_is_read_as_its_jobs_lycees_train_for(resolver):
    # « santé » matches « Médiateur en santé » only partly: it names the health domain, whose jobs lycées
    # train for (aide-soignant…) lead; the title typed in full is still that job.
    sante = resolver.understand("santé")
    assert sante.status == "vague" and "J1501" in sante.romes[:3]
    assert resolver.understand("médiateur en santé").romes[0] == "K1220"
    # Among the domain's jobs, those whose titles hold the typed word first: drivers for « transport ».
    transport = resolver.understand("transport")
    assert transport.status == "vague" and any(r.startswith("N41") for r in transport.romes[:3])


@pytest.mark.parametrize("text", ["mise en rayon", "vente en magasin"])
def test_readings_that_cover_the_text_poorly_across_trades_are_said_unclear(resolver, text):
    # « mise en rayon »: no title says it; « mise » names « assistant mise en scène », « rayon » the
    # chefs de rayon. Routed as read, but the company is asked to say the job more precisely.
    u = resolver.understand(text)
    assert u.status == "vague"
    assert u.jobs[0].score < 0.4
    assert "précisez le métier" in u.message


@pytest.mark.parametrize("text", ["employé de rayon", "vendeuse en magasin", "boulanger"])
def test_a_text_a_title_covers_well_stays_understood(resolver, text):
    assert resolver.understand(text).status == "compris"


@pytest.mark.parametrize("text", ["conseiller de vente", "Conseillère de vente"])
def test_a_professional_title_no_rome_title_says_names_its_trades(resolver, text):
    # « Titre professionnel conseiller de vente » (Certif Info: five retail trades, none first). No ROME
    # title says it: it read as « conseiller immobilier » and « vendeur automobile ».
    u = resolver.understand(text)
    assert {"C1504", "D1404"}.isdisjoint(u.romes)
    assert set(u.romes) >= {"D1211", "D1212", "D1214"}
    assert u.status == "vague" and "précisez le métier" in u.message  # one title, many trades
    commerce = [label for label in taught(resolver, u) if "commerce" in label.lower()]
    assert commerce, taught(resolver, u)


def test_a_professional_title_reads_as_its_trade(resolver):
    # « Manager d'unité marchande » (titre professionnel) runs a shop's department; read on « marchande »
    # alone, it was a sailor (« marin de la marine marchande »).
    assert resolver.understand("manager d'unité marchande").romes[:2] == ["D1502", "D1503"]


def test_professional_titles_never_displace_a_job_s_own_title(resolver):
    # « Titre professionnel cuisinier » links G1602 among others: the ROME title still decides.
    u = resolver.understand("cuisinier")
    assert u.romes[:3] == ["G1609", "G1602", "G1601"] and u.status == "compris"  # as before them
    # Apart from the job titles: their words weigh nothing in the title index nor in a job's words.
    assert resolver.job_titles.certified and all(t.kind == "certif" for t in resolver.job_titles.certified)
    assert not any(t.kind == "certif" for t in resolver.titles)


def test_a_fragment_of_a_professional_title_does_not_name_it(resolver):
    # « vente en magasin » is three words of « Employé de vente polyvalent en magasin », which Certif
    # Info links to assistant commercial first: the title does not read the text.
    u = resolver.understand("vente en magasin")
    assert "D1401" not in u.romes and all(j.via != "Employé de vente polyvalent en magasin" for j in u.jobs)


def test_the_autocomplete_offers_professional_titles(resolver):
    labels = {s.label: s.source for s in resolver.suggest("conseiller de v")}
    assert labels.get("Conseiller de vente") == "certif"
    assert resolver.suggest("boulan")[0].label == "Boulanger / Boulangère"  # job titles still first


@pytest.mark.parametrize("text, words", [
    ("BTS maintenance des systèmes", "maintenance des syst"),
    ("CAP maintenance des matériels", "maintenance des mat"),
])
def test_a_diploma_named_with_its_type_is_what_the_company_asks_for(resolver, text, words):
    # The job titles read « maintenance des systèmes » well too (informatique, systèmes numériques): the
    # diploma the company names by type and label leads all the same.
    u = resolver.understand(text)
    first = sorted(u.formations.values(), key=lambda f: -f.weight)[0]
    assert first.weight == 1.0 and words in fold(first.label), taught(resolver, u)[:5]


@pytest.mark.parametrize("text, rome", [("ferrailleur BTP", "F1701"), ("dessinateur BTP", "F1104"),
                                        ("ingénieur VRD", "F1111")])
def test_a_sigle_job_titles_write_as_such_is_read_as_written_too(resolver, text, rome):
    # « Ferrailleur du BTP » is a title; « BTP » expanded to « bâtiment travaux publics » read as a maçon.
    assert resolver.understand(text).romes[0] == rome


def test_a_sigle_read_as_written_does_not_add_a_trade_the_text_does_not_name(resolver):
    # « chef d'équipe BTP » as written is the « Chef d'équipe ferrailleur du BTP » (a coffreur): the text
    # names no ferrailleur; « BTP » expanded reads the chef d'équipe of the building or public works.
    assert resolver.understand("chef d'équipe BTP").romes[0] in {"F1202", "F1206", "F1207", "F1209"}


def test_a_diploma_sigle_is_still_expanded(resolver):
    u = resolver.understand("bac pro MELEC")
    assert u.romes[0] == "F1602" and "electricite" in fold(taught(resolver, u)[0])


def test_a_sigle_beside_a_word_no_diploma_label_holds_names_no_diploma(resolver):
    # « BTP » expanded covers a bac pro's label (« … du bâtiment et des travaux publics »), but no label
    # holds « secrétaire »: the text is a secretary's job, not that bac pro's (read as a métallier d'art).
    assert resolver.understand("secrétaire BTP").romes[0].startswith("M16")
    assert resolver.understand("conducteur SPL").jobs[0].via == "diplôme nommé"  # « super »: the sigle's own word


@pytest.mark.parametrize("text, same_as", [
    ("Électricien(ne)", "électricien"), ("Un(e) cuisinier(e)", "un cuisinier"),
    ("conducteur·rice de bus", "conducteur de bus"), ("vendeur.se en boulangerie", "vendeur en boulangerie"),
    ("employé(e)s libre-service", "employé libre-service"), ("bac pro M.E.L.E.C", "bac pro MELEC"),
])
def test_gendered_and_dotted_spellings_of_job_ads_read_as_the_plain_word(resolver, text, same_as):
    # « électricien(ne) » was read as « électricien » plus an unknown word « ne » (said corrected), and
    # « un(e) cuisinier(e) » lost the cook; a sigle written with dots was three letters, no diploma.
    u, plain = resolver.understand(text), resolver.understand(same_as)
    assert (u.status, u.romes[:3], sorted(u.formations)) == (plain.status, plain.romes[:3], sorted(plain.formations))
    assert u.correction is None and u.romes


@pytest.mark.parametrize("typed", ["electricien", "mécani"])
def test_the_autocomplete_offers_the_trades_lycees_train_for_before_engineers(resolver, typed):
    # « Ingénieur électricien » came first: ONISEP says it starts at bac + 5, as the readings weigh it.
    assert not any("ngénieur" in s.label for s in resolver.suggest(typed)[:3]), resolver.suggest(typed)[:3]


@pytest.mark.parametrize("text, rome", [
    ("soudure", "H2913"), ("soudage", "H2913"), ("carrelage", "F1608"), ("reliure", "B1402"),
    ("câblage", "H2605"), ("jardinage", "A1203"), ("tournage", "H2903"), ("esthétique", "D1208"),
])
def test_a_craft_named_by_its_work_is_read_as_its_worker_s_trade(resolver, text, rome):
    # « soudure » was a « régleur d'équipements de soudure », « carrelage » a « vendeur en carrelage »,
    # « jardinage » a fleuriste: titles holding the word itself beat the worker's own title.
    assert resolver.understand(text).romes[0] == rome


def test_a_craft_with_its_own_worker_is_not_read_as_a_lookalike_worker(resolver):
    # « chauffage »: the chauffagiste, not the « chauffeur » (chauff-age / chauff-eur).
    assert "N4105" not in resolver.understand("chauffage").romes[:3]
    assert resolver.understand("vendeure").romes[0].startswith("D1")  # a worker mistyped, not a craft in -ure


@pytest.mark.parametrize("text, foreign", [("toiletteur", "marechal"), ("soigneur animalier", "marechal"),
                                           ("opérateur sur machine textile", "maroquinerie")])
def test_a_domain_s_fallback_is_not_another_trade_s_own_diploma(resolver, text, foreign):
    # CAPA maréchal ferrant was the animal-care domain's only taught diploma: a dog groomer's request went to
    # farrier schools. A job no lycée trains for goes to the académie's referent instead.
    assert not any(foreign in fold(label) for label in taught(resolver, resolver.understand(text)))


def test_the_words_of_a_sentence_around_the_job_are_not_typos(resolver):
    # « notre » was said a typo of « notaire »: « Vouliez-vous dire « boulanger notaire boutique » ? »
    u = resolver.understand("Nous recherchons un apprenti boulanger pour notre boutique")
    assert (u.status, u.romes[0], u.correction) == ("compris", "D1102", None)
    assert resolver.understand("nous pouvons accueillir un stagiaire en plomberie").romes[0] == "F1603"


@pytest.mark.parametrize("text", ["vendeur en supermarché", "vendeur dans une boutique de vêtements"])
def test_the_place_after_the_job_does_not_replace_the_job(resolver, text):
    # « supermarché », a rare word of job titles, read the text as « directeur de supermarché »;
    # « vêtements » as a couturier.
    assert all(rome.startswith("D1") and rome != "D1504" for rome in resolver.understand(text).romes[:3])


def test_a_text_opening_with_an_activity_keeps_its_place(resolver):
    # « vente » opens no job title: « en magasin » is what says which sale (the shop assistant's).
    assert resolver.understand("vente en magasin").romes[0] in {"D1106", "D1211", "D1212", "D1214", "D1507"}


@pytest.mark.parametrize("text, words", [("BTS MOS", "management operationnel de la securite"),
                                         ("CAP APR", "agent polyvalent de restauration"),
                                         ("BTS CIRA", "controle industriel et regulation automatique")])
def test_a_diploma_sigle_no_list_holds_is_read_off_the_diplomas_labels(resolver, text, words):
    # They were « Métier non reconnu » (the form refuses that), or read as another trade (CIRA: an assembleur).
    assert words in fold(taught(resolver, resolver.understand(text))[0])


def test_a_label_sigle_alone_is_a_word_not_a_diploma(resolver):
    assert resolver.understand("mos").status == "inconnu"


@pytest.mark.parametrize("text, rome", [("élec bâtiment", "F1602"), ("prépa de commandes", "N1103"),
                                        ("plonge", "G1605"), ("chauffeur VL", "N4105"),
                                        ("réparation de vélos", "I1607"), ("mécanicien vélo", "I1607"),
                                        ("dev web", "M1805")])
def test_job_talk_clippings_read_as_the_job(resolver, text, rome):
    # « élec bâtiment » was a peintre en bâtiment (« élec » corrected), « prépa » a conducteur-livreur,
    # « la plonge » a scaphandrier, « réparation de vélos » an appliance repairer (« vélos » unknown), « dev
    # web » a « technicien méthodes » (« dev » corrected).
    understood = resolver.understand(text)
    assert rome in {understood.romes[0], resolver.links.parent(understood.romes[0])}


@pytest.mark.parametrize("typo, word", [("boulengerie", "boulangerie"), ("carelage", "carrelage"),
                                        ("soudrue", "soudure"), ("cuisnier", "cuisinier"), ("cusinier", "cuisinier"),
                                        ("cuisnier de collectivité", "cuisinier de collectivité"),
                                        ("agent de netoyage", "agent de nettoyage")])
def test_a_mistyped_word_reads_as_the_word_typed_right(resolver, typo, word):
    # The correction reached the corrected word's own titles only, not its family: « boulengerie » was a
    # chef de rayon, « carelage » a vendeur. « cuisnier » was a commis: no title scored as the text word for
    # word (a correction scores below 1), so the fiche whose own label it is lost its lead to the one with
    # more titles holding the word.
    u = resolver.understand(typo)
    assert u.status == "corrige" and u.romes[0] == resolver.understand(word).romes[0]


def test_an_agrifood_operator_is_read_as_a_production_job(resolver):
    # ROME's titles say « industrie alimentaire »; ONISEP's « agroalimentaire » alone was a technico-commercial's.
    assert resolver.understand("opérateur agroalimentaire").romes[0].startswith("H21")


@pytest.mark.parametrize("typed, rome", [("soudure", "H2913"), ("carrelage", "F1608"), ("jardinage", "A1203")])
def test_the_autocomplete_offers_the_worker_of_a_craft_typed_whole(resolver, typed, rome):
    # « soudure » offered only « Régleur sur robot de soudure », « carrelage » a vendeur en carrelage.
    assert resolver.suggest(typed)[0].rome == rome


def test_several_jobs_listed_in_one_text_are_each_read(resolver):
    # « cuisinier, serveur » read as the cook alone: the waiter's lycées were never asked.
    u = resolver.understand("cuisinier, serveur")
    assert {"G1609", "G1803"} <= set(u.romes[:2]) and u.status == "compris"
    cook, waiter = resolver.understand("cuisinier"), resolver.understand("serveur")
    assert set(cook.formations) | set(waiter.formations) == set(u.formations)
    assert resolver.understand("plombier ; chauffagiste").romes[:2] == ["F1603", "I1308"]


def test_one_job_written_twice_or_beside_an_unknown_word_stays_one_reading(resolver):
    assert resolver.understand("électricien, électricienne").romes[:3] == resolver.understand("électricien").romes[:3]
    assert resolver.understand("cuisinier, zzzz").romes == resolver.understand("cuisinier zzzz").romes
    assert resolver.understand("Boulanger / Boulangère").romes[0] == "D1102"  # a title, not a list
    assert resolver.understand("aide-soignant/e").romes == resolver.understand("aide-soignant").romes
    assert resolver.understand("chauffeur H/F").romes == resolver.understand("chauffeur").romes


def test_two_jobs_either_side_of_a_slash_are_each_read(resolver):
    # « plaquiste/peintre » was the plaquiste alone: the painters' lycées were never asked.
    u = resolver.understand("plaquiste/peintre")
    assert u.romes[0] == "F1604" and "peintre" in " ".join(j.label.lower() for j in u.jobs[1:])
    assert set(resolver.understand("peintre").formations) <= set(u.formations)
    assert resolver.understand("maçon/coffreur").romes[:2] == resolver.understand("maçon, coffreur").romes[:2]


@pytest.mark.parametrize("title, rome", [
    ("Conducteur / Conductrice de travaux Voirie, Réseaux Divers -VRD-", "F1201"),
    ("Pilote professionnel / professionnelle aéronautique", "N2102"),
    ("Chef de produit études, recherche et développement", "H1206"),
])
def test_a_title_the_autocomplete_offers_is_not_read_as_a_list(resolver, title, rome):
    # A comma or a slash inside a title split it into « jobs »: « … Voirie » and « Réseaux Divers -VRD- ».
    assert rome in resolver.understand(title).romes


def test_a_listed_part_that_names_nothing_known_is_said_not_dropped_unseen(resolver):
    # « cuisinier, serveur, zzzz » was read as the cook and the waiter, and « zzzz » vanished unsaid.
    u = resolver.understand("cuisinier, serveur, zzzz")
    assert {"G1609", "G1803"} <= set(u.romes[:2]) and u.ignored == ["zzzz"]
    assert "(mots non pris en compte : « zzzz »)" in u.message
    typo = resolver.understand("cuisnier, serveur, zzzz")  # a correction asked for does not hide it either
    assert typo.status == "corrige" and "« zzzz »" in typo.message and "Vouliez-vous dire" in typo.message


@pytest.mark.parametrize("typed, romes", [
    ("chauffeur permis C", {"N4101"}), ("permis C", {"N4101"}), ("conducteur permis D", {"N4103"}),
    ("conducteur permis CE", {"N4101", "N4111", "N4115"}),  # super poids lourd: N4101 and its children
])
def test_a_driving_licence_category_names_the_vehicle(resolver, typed, romes):
    # « chauffeur permis C » read a conducteur-livreur first, « permis C » a driving instructor.
    assert resolver.understand(typed).romes[0] in romes


def test_a_diploma_named_word_for_word_keeps_the_readings_it_leads_to(resolver):
    # « CAP cuisine » was read as chef, commis, plaquiste (« Poseur de cuisines ») and a furniture seller,
    # said vague, and the CAP plâtrier-plaquiste counted for 0.58 among its formations.
    u = resolver.understand("CAP cuisine")
    assert u.status == "compris" and u.romes and all(r.startswith("G16") for r in u.romes)
    assert not any("platrier" in link.label.lower() or "plâtr" in link.label.lower() for link in u.formations.values())
    assert "F1604" in resolver.understand("cuisine").romes  # the word alone is still read every way it can be
