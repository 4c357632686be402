"""RBE directory import (API and CLI): good rows kept, bad rows reported in French, CatalogChanged published."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from services.catalog.cli import import_rbe
from services.catalog.models import Rbe, RbeCoverage, RbeNomination
from services.catalog.service.rbe_naming import confirm
from services.catalog.service.snapshot import build_snapshot
from services.catalog.tasks import import_rbe_csv
from shared.platform.clock import utcnow
from shared.platform.db import make_engine, unit_of_work
from shared.platform.outbox import OutboxEvent
from tests.catalog.support import ADMIN_TOKEN, catalog_settings

pytestmark = pytest.mark.timeout(120)

CSV = """name,email,uais,deputy_email
Camille Martin,Camille.Martin@ac-lyon.fr,0693504J;0692516K,dominique.petit@ac-lyon.fr
Sans Adresse,,0010001W,
Mauvaise UAI,rbe2@ac-lyon.fr,12345;0010001W,
UAI inconnue,rbe3@ac-lyon.fr,0000000A,
Même personne,rbe4@ac-lyon.fr,0010001W,rbe4@ac-lyon.fr
Alex Durand,alex.durand@ac-rennes.fr,0351878B,
"""


def _catalog_events(url: str) -> list[dict]:
    engine = make_engine(url)
    with Session(engine) as session:
        rows = session.exec(select(OutboxEvent).where(OutboxEvent.event_type == "catalog.changed")).all()
    engine.dispose()
    return [json.loads(r.payload)["data"] for r in rows]


def test_import_requires_the_admin_token(client):
    assert client.post("/api/v1/admin/rbe/import", content=CSV).status_code == 401
    denied = client.post("/api/v1/admin/rbe/import", content=CSV, headers={"Authorization": "Bearer faux"})
    assert denied.status_code == 401 and denied.headers["WWW-Authenticate"] == "Bearer"
    assert "Jeton d'administration manquant ou invalide" in denied.json()["detail"]


def test_import_keeps_good_rows_and_reports_bad_ones(client, catalog_url):
    before = len(_catalog_events(catalog_url))
    response = client.post("/api/v1/admin/rbe/import?confirmes=true", content=CSV.encode(),
                           headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "text/csv"})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["imported"] == 2 and report["awaiting_confirmation"] == 0
    errors = {e["line"]: e["message"] for e in report["errors"]}
    assert set(errors) == {3, 4, 5, 6}
    assert "adresse électronique invalide" in errors[3]
    assert "UAI mal formée" in errors[4]
    assert "UAI inconnue : 0000000A" in errors[5]
    assert "suppléant" in errors[6]
    # The directory changed, the snapshot follows, one CatalogChanged(rbe) left through the outbox.
    snap = {lyc["uai"]: lyc for lyc in client.get("/api/v1/snapshot").json()["lycees"]}
    assert snap["0692516K"]["rbe_email"] == "camille.martin@ac-lyon.fr"
    assert snap["0692516K"]["is_generic_contact"] is False
    assert snap["0693504J"]["deputy_email"] == "dominique.petit@ac-lyon.fr"
    assert snap["0010001W"]["is_generic_contact"] is True  # bad rows changed nothing
    events = _catalog_events(catalog_url)
    assert len(events) == before + 1 and events[-1]["change"] == "rbe"
    assert set(events[-1]["uais"]) == {"0693504J", "0692516K", "0351878B"}


def test_import_without_the_right_columns_changes_nothing(client, catalog_url):
    response = client.post("/api/v1/admin/rbe/import", content="nom,courriel\nA,b@c.fr\n",
                           headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 200
    assert response.json()["imported"] == 0 and "colonnes manquantes" in response.json()["errors"][0]["message"]
    assert client.post("/api/v1/admin/rbe/import", content=b"\xff\xfe\x00",
                       headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 422


def test_cli_import(catalog_url, tmp_path, capsys):
    path = tmp_path / "rbe.csv"
    path.write_text(CSV, encoding="utf-8")
    code = import_rbe([str(path), "--database-url", catalog_url, "--confirmes"])
    out = capsys.readouterr().out
    assert code == 1  # some rows were refused
    assert "2 ligne(s) importée(s), 4 ligne(s) refusée(s)" in out and "ligne 5 : UAI inconnue" in out
    engine = make_engine(catalog_url)
    with Session(engine) as session:
        assert session.get(RbeCoverage, "0351878B").rbe_email == "alex.durand@ac-rennes.fr"
        assert session.get(Rbe, "alex.durand@ac-rennes.fr").name == "Alex Durand"
    engine.dispose()
    assert import_rbe([str(tmp_path / "absent.csv"), "--database-url", catalog_url]) == 2


def test_academie_fallback_is_set_by_an_admin(client):
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert client.put("/api/v1/admin/academies/Lyon/repli", json={"email": "x@y.fr"}).status_code == 401
    ok = client.put("/api/v1/admin/academies/lyon/repli", json={"email": "Referent.Entreprises@ac-lyon.fr"}, headers=auth)
    assert ok.status_code == 200 and ok.json() == {"academie": "Lyon", "email": "referent.entreprises@ac-lyon.fr"}
    assert client.get("/api/v1/snapshot").json()["academie_fallbacks"] == {"Lyon": "referent.entreprises@ac-lyon.fr"}
    unknown = client.put("/api/v1/admin/academies/Atlantide/repli", json={"email": "a@b.fr"}, headers=auth)
    assert unknown.status_code == 404 and "Académie inconnue" in unknown.json()["detail"]
    bad = client.put("/api/v1/admin/academies/Lyon/repli", json={"email": "pas une adresse"}, headers=auth)
    assert bad.status_code == 422
    [error] = bad.json()["errors"]
    assert error["field"] == "email" and error["message"].startswith("Adresse de repli :")


def test_an_imported_rbe_awaiting_confirmation_keeps_the_lists_deputy(catalog_url):
    engine = make_engine(catalog_url)
    report = import_rbe_csv(engine, "name,email,uais,deputy_email\n"
                                    "Lou Bernard,lou.bernard@ac-lyon.fr,0693504J,Remi.Roux@ac-lyon.fr\n",
                            correlation_id="t", settings=catalog_settings(catalog_url))
    assert report.imported == 1 and not report.errors
    with Session(engine) as session:
        (nomination,) = session.exec(select(RbeNomination).where(RbeNomination.email == "lou.bernard@ac-lyon.fr")).all()
        assert nomination.deputy_email == "remi.roux@ac-lyon.fr"
        assert session.get(Rbe, "lou.bernard@ac-lyon.fr") is None  # nothing routes before the confirmation
    with unit_of_work(engine) as session:
        assert confirm(session, nomination.id, now=utcnow(), correlation_id="t", mail_domain="mlp.test").routing
    snapshot = {lyc.uai: lyc for lyc in build_snapshot(engine).lycees}
    assert snapshot["0693504J"].rbe_email == "lou.bernard@ac-lyon.fr"
    assert snapshot["0693504J"].deputy_email == "remi.roux@ac-lyon.fr"
    engine.dispose()
