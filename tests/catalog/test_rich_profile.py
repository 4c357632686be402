"""The richer profile written by the RBE (issue 22): every part saved through the RBE space, shown on the
public profile and in its JSON, searchable, in the snapshot the matcher reads; the image cleaned of its
metadata; a disguised executable refused; completeness and the next step on the dashboard."""

from __future__ import annotations

import io
import json
import re
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import Session, select

from services.catalog.app import create_app
from shared.platform.db import make_engine
from shared.platform.outbox import OutboxEvent
from tests.catalog.profile_support import (
    GPS_MARK,
    RABELAIS,
    disguised_executable,
    jpeg_with_gps,
    login,
    name_rbe,
)
from tests.catalog.support import catalog_settings

pytestmark = pytest.mark.timeout(120)
SOON = (date.today() + timedelta(days=20)).isoformat()


@pytest.fixture
def rbe(catalog_url, template_state):
    name_rbe(catalog_url, [RABELAIS])
    settings = catalog_settings(catalog_url, catalog_public_url="http://testserver")
    app = create_app(settings)
    app.state.catalog.seed_from(template_state)
    client = TestClient(app)
    return client, login(client, settings.secret_key, catalog_url)


def test_every_part_is_saved_shown_searched_and_shipped(rbe, catalog_url):
    client, csrf = rbe
    dashboard = client.get("/espace-rbe/mes-lycees").text
    assert "Votre fiche est complète à 0 %" in dashboard and "Prochaine étape conseillée : Services proposés" in dashboard
    editor = client.get(f"/espace-rbe/lycees/{RABELAIS}").text
    assert "Boulanger" in editor and "de nos sortants sont en emploi" in editor or "Formations :" in editor

    def post(path: str, data: dict, **kw) -> None:
        answer = client.post(f"/espace-rbe/lycees/{RABELAIS}{path}", data={"csrf": csrf, **data},
                             follow_redirects=False, **kw)
        assert answer.status_code == 303, answer.text[-2000:]

    post("", {"pitch": "Nos boulangers pétrissent au fournil pédagogique.", "services": ["pfmp", "recrutement"],
              "monthly_capacity": "6", "brouillon": "autre chose"})
    post("/pfmp", {"classe": "1re", "cfd": "", "dates": "du 2 au 27 mars"})
    post("/pfmp", {"classe": "tle", "cfd": "", "dates": "12/01 au 06/02"})
    post("/evenements", {"kind": "job_dating", "title": "Job dating des métiers de bouche", "starts_on": SOON,
                         "details": "De 14 h à 17 h, au fournil."})
    post("/vitrine", {"platforms": "Fournil pédagogique avec four à sole\nLaboratoire de pâtisserie",
                      "label_lycee_metiers": "Lycée des métiers de la boulangerie",
                      "label_cmq": "Campus des métiers du goût", "networks": ""})
    post("/partenaires", {"nouveau_nom": "Boulangerie Dupont", "nouveau_accord": "oui"})
    # The form sends back the boxes of the partners already recorded: Dupont keeps its consent.
    dupont = re.search(r'name="(accord-\d+)"', client.get(f"/espace-rbe/lycees/{RABELAIS}").text).group(1)
    post("/partenaires", {dupont: "oui", "nouveau_nom": "Minoterie Sans Accord"})
    post("/image", {"kind": "photo"}, files={"fichier": ("atelier.jpg", jpeg_with_gps(), "image/jpeg")})

    dashboard = client.get("/espace-rbe/mes-lycees").text
    assert "Votre fiche est complète à 100 %" in dashboard and "Fiche complète" in dashboard

    page = client.get(f"/lycees/{RABELAIS}").text
    for shown in ("Nos boulangers pétrissent", "rédigé par le lycée", "Première (1re) : du 2 au 27 mars",
                  "Terminale : du 12 janvier au 6 février", "Job dating des métiers de bouche",
                  "Fournil pédagogique avec four à sole", "Lycée des métiers de la boulangerie",
                  "Campus des métiers du goût", "Boulangerie Dupont"):
        assert shown in page, shown
    assert "Minoterie Sans Accord" not in page  # no consent, not shown
    profile = client.get(f"/api/v1/lycees/{RABELAIS}").json()
    assert profile["pitch_origin"] == "lycee" and profile["partners"] == ["Boulangerie Dupont"]
    assert [p["ranges"] for p in profile["pfmp"]] == ["03-02/03-27", "01-12/02-06"]

    # The image: re-encoded, resized, without EXIF, GPS or comment.
    served = client.get(profile["image_url"])
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert GPS_MARK not in served.content and b"Appareil-Secret" not in served.content and b"Exif" not in served.content
    with Image.open(io.BytesIO(served.content)) as image:
        assert not image.getexif() and max(image.size) <= 1200 and "comment" not in image.info

    # Events page, near Lyon, and the search by keyword; the PFMP dates weigh in and are said.
    events = client.get("/evenements?lieu=69007&rayon=30").text
    assert "Job dating des métiers de bouche" in events and "Lycée polyvalent François Rabelais" in events
    assert "Job dating des métiers de bouche" not in client.get("/evenements?lieu=13001&rayon=30").text
    found = client.get("/api/v1/lycees", params={"q": "job dating", "lieu": "69007", "rayon_km": 30}).json()
    assert [r["uai"] for r in found["results"]][:1] == [RABELAIS]
    ranked = client.get("/api/v1/lycees", params={"metier": "boulanger", "lieu": "69007", "rayon_km": 30,
                                                   "besoin": "pfmp", "periode": "mars"}).json()["results"]
    assert ranked[0]["uai"] == RABELAIS
    assert any("vos dates (mars) tombent pendant la PFMP des 1re" in h for h in ranked[0]["highlights"])
    html = client.get("/", params={"q": "fournil", "lieu": "69007"}).text
    assert "Lycée polyvalent François Rabelais" in html and "Job dating" in html

    # The matcher's snapshot carries the periods and the event; every change went through the outbox.
    snap = next(ly for ly in client.get("/api/v1/snapshot").json()["lycees"] if ly["uai"] == RABELAIS)
    assert [p["classe"] for p in snap["pfmp_periods"]] == ["1re", "tle"] and snap["events"][0]["kind"] == "job_dating"
    engine = make_engine(catalog_url)
    with Session(engine) as session:
        changes = [json.loads(r.payload)["data"]["change"] for r in session.exec(select(OutboxEvent)).all()]
    engine.dispose()
    assert changes.count("profile") >= 7


def test_refusals_are_in_french(rbe):
    client, csrf = rbe
    url = f"/espace-rbe/lycees/{RABELAIS}"
    exe = client.post(url + "/image", data={"csrf": csrf, "kind": "logo"},
                      files={"fichier": ("logo.png", disguised_executable(), "image/png")})
    assert exe.status_code == 422 and "programme ou une archive, pas une image" in exe.text
    fake = client.post(url + "/image", data={"csrf": csrf, "kind": "logo"},
                       files={"fichier": ("logo.png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 50, "image/png")})
    assert fake.status_code == 422 and "pas une image lisible" in fake.text
    assert client.get(f"/lycees/{RABELAIS}/image").status_code == 404
    bad_dates = client.post(url + "/pfmp", data={"csrf": csrf, "classe": "1re", "dates": "31 février"})
    assert bad_dates.status_code == 422 and "Date impossible" in bad_dates.text
    past = client.post(url + "/evenements", data={"csrf": csrf, "kind": "forum", "starts_on": "2020-01-01"})
    assert past.status_code == 422 and "est passée" in past.text
    other = client.post("/espace-rbe/lycees/0010001W/pfmp", data={"csrf": csrf, "classe": "1re", "dates": "mars"})
    assert other.status_code == 403
    forged = client.post(url + "/vitrine", data={"csrf": "faux", "platforms": "x"})
    assert forged.status_code == 403
