"""`campaign import`: a realistic file of 500+ companies with deliberate defects, refused row by row
with the exact reasons; nothing half-imported."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import uuid

import pytest
from sqlmodel import Session

from services.intake.campaigns import repository
from services.intake.campaigns.cli import import_command
from services.intake.campaigns.importer import FileProblem, read_table
from services.intake.campaigns.models import Campaign, CampaignContact, Unsubscribed
from services.intake.config import IntakeSettings
from services.intake.models import CompanyRequest
from tests.intake.campaigns.support import (
    HEADER,
    TOKENS,
    companies,
    contacts,
    count,
    csv_text,
    import_text,
    row_of,
    siret,
)
from tests.support.live import ROOT


def served(engine, *, siret: str | None, email: str) -> None:
    """A request intake already holds for this company."""
    with Session(engine) as session:
        session.add(CompanyRequest(
            id=str(uuid.uuid4()), token=uuid.uuid4().hex, channel="form", correlation_id="c", needs=["pfmp"],
            siret=siret, company_name="Déjà servie", contact_name="Quelqu'un", contact_email=email))
        session.commit()


def unsubscribed(engine, email: str) -> None:
    with Session(engine) as session:
        session.add(Unsubscribed(address_hash=TOKENS.hash(email)))
        session.commit()


def test_a_file_of_500_companies_with_defects_is_refused_row_by_row(engine):
    good = companies(500)
    served(engine, siret=good[10].siret, email="autre@ailleurs.fr")  # served, found by its SIRET
    served(engine, siret=None, email=good[11].email)  # served, found by its address
    unsubscribed(engine, good[30].email)
    first = import_text(engine, csv_text([row_of(good[20])]), "premier-fichier")
    assert (first.imported, first.refusals) == (1, [])

    wrong_key = siret(900)[:-1] + str((int(siret(900)[-1]) + 1) % 10)
    rows = [row_of(c) for c in good] + [  # the file's lines 502 onwards
        [wrong_key, "Garage Faux", "Luc Faux", "luc@garage-faux.fr", "69007", "45.20A", ""],
        ["7328293200007", "Treize Chiffres", "Ana Treize", "ana@treize.fr", "75011", "", ""],
        [good[0].siret, "Doublon SIRET", "Paul Double", "paul@doublon.fr", "13001", "", ""],
        [siret(901), "Doublon Adresse", "Zoé Double", good[1].email.upper(), "33000", "", ""],
        [siret(902), "Commune Inconnue", "Max Inconnu", "max@inconnu.fr", "Trifouillis-les-Oies", "", ""],
        [siret(903), "Mauvaise Adresse", "Léa Mauvaise", "lea.mauvaise.entreprise.fr", "59000", "", ""],
        [siret(904), "Faute De Frappe", "Tom Frappe", "tom@gmial.com", "Lyon 7e Arrondissement", "", ""],
        [siret(905), "Sans Contact", "", "sans@contact.fr", "31000", "56.10A", ""],
        [siret(906), "NAF Faux", "Eva Naf", "eva@naf-faux.fr", "67000", "1071", ""],
        ["12345678901234", "Tout Faux", "Ugo Faux", "ugo@", "99999", "", ""],
        ["", "", "Rien", "", "", "", ""],
    ]
    report = import_text(engine, csv_text(rows), "les-entreprises-s-engagent-2027", partner="lees")

    assert [str(r) for r in report.refusals] == [
        "ligne 12, colonne « SIRET » : Entreprise déjà servie : une demande a déjà été déposée avec ce SIRET.",
        "ligne 13, colonne « Email du contact » : Entreprise déjà servie : une demande a déjà été déposée avec cette "
        "adresse.",
        "ligne 22, colonne « SIRET » : SIRET déjà importé (campagne « premier-fichier »).",
        "ligne 22, colonne « Email du contact » : Adresse déjà importée (campagne « premier-fichier »).",
        "ligne 32, colonne « Email du contact » : Adresse désinscrite : elle ne reçoit plus d'invitation.",
        "ligne 502, colonne « SIRET » : Ce SIRET n'est pas valide (clé de contrôle incorrecte) : vérifiez-le.",
        "ligne 503, colonne « SIRET » : Le SIRET doit comporter 14 chiffres.",
        "ligne 504, colonne « SIRET » : SIRET en double dans le fichier (déjà ligne 2).",
        "ligne 505, colonne « Email du contact » : Adresse en double dans le fichier (déjà ligne 3).",
        "ligne 506, colonne « Code postal ou commune » : Commune introuvable : indiquez son code postal (ex. 69007).",
        "ligne 507, colonne « Email du contact » : L'adresse électronique doit contenir un @ "
        "(ex. prenom.nom@entreprise.fr).",
        "ligne 508, colonne « Email du contact » : Le domaine « gmial.com » semble mal orthographié : vouliez-vous "
        "dire « gmail.com » ?",
        "ligne 509, colonne « Nom du contact » : Ce champ est obligatoire.",
        "ligne 510, colonne « Code NAF » : Le code NAF doit avoir la forme 10.71C (4 chiffres et une lettre).",
        "ligne 511, colonne « SIRET » : Ce SIRET n'est pas valide (clé de contrôle incorrecte) : vérifiez-le.",
        "ligne 511, colonne « Email du contact » : Le domaine de l'adresse électronique (après le @) n'est pas "
        "valide.",
        "ligne 511, colonne « Code postal ou commune » : Code postal inconnu : 99999.",
        "ligne 512, colonne « SIRET » : Ce champ est obligatoire.",
        "ligne 512, colonne « Raison sociale » : Ce champ est obligatoire.",
        "ligne 512, colonne « Email du contact » : Ce champ est obligatoire.",
        "ligne 512, colonne « Code postal ou commune » : Ce champ est obligatoire.",
    ]
    assert (report.rows, report.imported, report.refused_rows) == (511, 496, 15)
    assert report.summary().startswith(
        "Campagne « les-entreprises-s-engagent-2027 » (partenaire : lees)\n"
        "511 ligne(s) lue(s), 496 importées, 15 refusée(s).\nRefus :\n  ligne 12, colonne « SIRET » : ")

    stored = [c for c in contacts(engine) if c.campaign_id == report.campaign_id]
    assert len(stored) == 496
    by_line = {c.line: c for c in stored}
    sample = by_line[2]
    # A postal code names its first commune (as in the form); a commune name, that very commune.
    assert (sample.siret, sample.contact_email, sample.postal_code, sample.company_name) == (
        good[0].siret, good[0].email, good[0].commune.postal_code, good[0].name)
    assert all(c.academie for c in stored)  # every commune of the data has its académie
    by_name = next(c for c in good[:40] if not c.place.isdigit())  # a row that named its commune
    assert by_line[good.index(by_name) + 2].commune_insee == by_name.commune.insee
    assert all(c.jobs == [j.strip() for j in good[c.line - 2].jobs.split(";") if j.strip()] for c in stored)

    # The same file again: every row was imported already.
    again = import_text(engine, csv_text([row_of(c) for c in good[:5]]), "les-entreprises-s-engagent-2027",
                        partner="lees")
    assert again.imported == 0 and not again.created
    assert [str(r) for r in again.refusals][:2] == [
        "ligne 2, colonne « SIRET » : SIRET déjà importé (campagne « les-entreprises-s-engagent-2027 »).",
        "ligne 2, colonne « Email du contact » : Adresse déjà importée (campagne « les-entreprises-s-engagent-2027 »).",
    ]


def test_a_crash_in_the_middle_of_an_import_leaves_nothing(engine, monkeypatch):
    insert = repository.insert_contacts
    calls = []

    def insert_then_crash(session, rows):
        calls.append(len(rows))
        insert(session, rows)
        if len(calls) == 2:
            raise RuntimeError("processus tué au milieu de l'import")

    monkeypatch.setattr(repository, "insert_contacts", insert_then_crash)
    with pytest.raises(RuntimeError):
        import_text(engine, csv_text([row_of(c) for c in companies(250)]), "interrompue")
    assert calls == [100, 100]  # two chunks were written inside the transaction...
    assert count(engine, CampaignContact) == 0 and count(engine, Campaign) == 0  # ...and rolled back


def test_a_dry_run_stores_nothing_and_a_campaign_keeps_its_partner(engine):
    report = import_text(engine, csv_text([row_of(c) for c in companies(3)]), "essai", dry_run=True)
    assert report.imported == 3 and "Vérification seule (--verifier) : rien n'a été enregistré." in report.summary()
    assert count(engine, CampaignContact) == 0
    import_text(engine, csv_text([row_of(c) for c in companies(3)]), "essai", partner="lees")
    with pytest.raises(FileProblem, match="existe déjà avec le partenaire « lees »"):
        import_text(engine, csv_text([row_of(c) for c in companies(2, start=10)]), "essai", partner="autre")


def test_headers_are_matched_loosely_and_missing_columns_named():
    names, rows = read_table("\ufeffsiret,Entreprise,Contact,Courriel,Commune,NAF\n1,2,3,4,5,6\n\n")
    assert names == {"siret": "siret", "company_name": "Entreprise", "contact_name": "Contact",
                     "contact_email": "Courriel", "place": "Commune", "naf": "NAF"}
    assert rows == [(2, {"siret": "1", "company_name": "2", "contact_name": "3", "contact_email": "4",
                         "place": "5", "naf": "6"})]
    with pytest.raises(FileProblem, match=r"manquante\(s\) dans l'en-tête \(ligne 1\) : adresse électronique"):
        read_table("siret;nom;contact;commune;naf\n")


def test_import_command(sqlite_engine, tmp_path):
    path = tmp_path / "fichier.csv"
    rows = [row_of(c) for c in companies(4)] + [["1", "X", "Y", "y@x.fr", "69007", "", ""]]
    path.write_bytes(csv_text(rows, delimiter=",").encode("cp1252", errors="replace"))
    env = {**os.environ, "MLP_ENV": "test", "MLP_DATABASE_URL": str(sqlite_engine.url), "MLP_VAR_DIR": str(tmp_path),
           "MLP_LOG_LEVEL": "WARNING"}
    done = subprocess.run([sys.executable, "-m", "services.cli", "campaign", "import", str(path), "--name", "essai",
                           "--partner", "lees"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "Campagne « essai » (partenaire : lees)\n5 ligne(s) lue(s), 4 importées, 1 refusée(s).\nRefus :\n"
        "  ligne 6, colonne « SIRET » : Le SIRET doit comporter 14 chiffres.\n")
    assert count(sqlite_engine, CampaignContact) == 4
    assert HEADER[0] == "SIRET"
    missing = tmp_path / "vide.csv"
    missing.write_text("siret;nom\n")
    done = subprocess.run([sys.executable, "-m", "services.cli", "campaign", "import", str(missing), "--name", "x"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Rien n'a été importé." in done.stderr


def test_a_partner_must_be_a_slug(capsys):
    args = argparse.Namespace(file="x.csv", name="essai", partner="Les Entreprises !", verifier=False)
    assert import_command(IntakeSettings(env="test"), args) == 2
    assert "n'est pas un identifiant de partenaire" in capsys.readouterr().err
