"""`monlyceepro import-referents`: every line checked, French message per line, all or nothing; the
académie's referent then stands in for its generic contact in the snapshot the matcher routes with."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from services.catalog import repository as repo
from services.catalog.cli import import_referents
from services.catalog.models import Referent
from services.catalog.service.readmodel import load_read_model
from shared.platform.db import make_engine
from shared.platform.outbox import OutboxEvent

pytestmark = pytest.mark.timeout(120)

BAD = """academie,name,email
Lyon,Camille Martin,Camille.Martin@ac-lyon.fr
Atlantide,Alex Durand,alex.durand@ac-atlantide.fr
,Sans Académie,sans@ac-lyon.fr
Académie de Rennes,,pas-une-adresse
lyon,Dominique Petit,camille.martin@ac-lyon.fr
"""
GOOD = """academie,name,email
Académie de Lyon,Camille Martin,Camille.Martin@ac-lyon.fr
RENNES,Alex Durand,alex.durand@ac-rennes.fr
"""


def _run(tmp_path, capsys, url: str, content: str) -> tuple[int, list[str]]:
    path = tmp_path / "referents.csv"
    path.write_text(content, encoding="utf-8")
    code = import_referents([str(path), "--database-url", url])
    return code, capsys.readouterr().out.splitlines()


def _rows(url: str) -> tuple[list[tuple[str, str, str]], list[dict]]:
    engine = make_engine(url)
    with Session(engine) as session:
        rows = [(r.academie, r.name, r.email) for r in session.exec(select(Referent).order_by(Referent.email))]
        events = [json.loads(r.payload)["data"] for r in session.exec(select(OutboxEvent))
                  if r.event_type == "catalog.changed"]
    engine.dispose()
    return rows, events


def test_a_refused_line_refuses_the_file_with_exact_french_messages(catalog_url, tmp_path, capsys):
    code, out = _run(tmp_path, capsys, catalog_url, BAD)
    assert code == 1
    assert out == [
        "Aucun référent importé : 4 ligne(s) à corriger.",
        "  ligne 3 : académie inconnue « Atlantide »",
        "  ligne 4 : académie manquante",
        "  ligne 5 : nom manquant ; adresse électronique invalide « pas-une-adresse »",
        "  ligne 6 : adresse déjà donnée ligne 2",
    ]
    assert _rows(catalog_url)[0] == []  # the good line 2 was not written either


def test_missing_columns_and_empty_files(catalog_url, tmp_path, capsys):
    assert _run(tmp_path, capsys, catalog_url, "nom,courriel\nA,b@c.fr\n") == (1, [
        "Aucun référent importé : 1 ligne(s) à corriger.",
        "  ligne 1 : colonnes manquantes : academie, name, email (attendu : academie,name,email)"])
    assert _run(tmp_path, capsys, catalog_url, "academie,name,email\n") == (1, [
        "Aucun référent importé : 1 ligne(s) à corriger.", "  ligne 2 : aucun référent dans le fichier"])
    assert import_referents([str(tmp_path / "absent.csv"), "--database-url", catalog_url]) == 2


def test_import_then_the_referent_replaces_the_generic_contact(catalog_url, tmp_path, capsys):
    engine = make_engine(catalog_url)
    with Session(engine) as session:
        repo.set_academie_fallback(session, "Lyon", "entreprises@ac-lyon.fr")
        repo.set_academie_fallback(session, "Rennes", "entreprises@ac-rennes.fr")
        session.commit()
    assert _run(tmp_path, capsys, catalog_url, GOOD) == (0, ["2 référent(s) importé(s)."])
    rows, events = _rows(catalog_url)
    assert rows == [("Rennes", "Alex Durand", "alex.durand@ac-rennes.fr"),
                    ("Lyon", "Camille Martin", "camille.martin@ac-lyon.fr")]
    assert events[-1]["change"] == "rbe"  # the matcher refreshes its snapshot
    with Session(engine) as session:
        fallbacks = load_read_model(session, "national@monlyceepro.test").academie_fallbacks
        assert fallbacks["Lyon"] == "camille.martin@ac-lyon.fr" and fallbacks["Rennes"] == "alex.durand@ac-rennes.fr"
        # Once Lyon has a referent, its generic contact no longer logs in to the back-office in its place.
        assert repo.academie_contact_owner(session, "entreprises@ac-lyon.fr") is None
    engine.dispose()
    # Importing again moves or renames a referent (keyed by address).
    assert _run(tmp_path, capsys, catalog_url, "academie,name,email\nRennes,Camille M.,camille.martin@ac-lyon.fr\n")[0] == 0
    assert ("Rennes", "Camille M.", "camille.martin@ac-lyon.fr") in _rows(catalog_url)[0]
