"""« Nous avons compris » : intake asks the real catalog (a live process on the real data) what each typed
job means, shows it, and never accepts an unknown job silently; without the catalog it accepts as typed."""

from __future__ import annotations

import re
import shutil

import httpx
import pytest
from sqlmodel import Session

from services.catalog.models import PfmpPeriod
from shared.platform.db import make_engine
from tests.intake.support import body, counts
from tests.support.eventually import eventually
from tests.support.live import ServiceProcess, service_env
from tests.support.system import catalog_template

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory, redis_server):
    tmp = tmp_path_factory.mktemp("catalog-understanding")
    shutil.copyfile(catalog_template(tmp_path_factory.getbasetemp() / "catalog-cache"), tmp / "catalog.db")
    engine = make_engine(f"sqlite:///{tmp / 'catalog.db'}")
    with Session(engine) as session:  # the RBE of lycée Rabelais declared the PFMP of its 1re (issue 22)
        session.add(PfmpPeriod(uai="0693504J", classe="1re", dates="du 2 au 27 mars", ranges="03-02/03-27"))
        session.commit()
    engine.dispose()
    env = service_env(tmp, redis_server.url, MLP_DATABASE_URL=f"sqlite:///{tmp / 'catalog.db'}")
    process = ServiceProcess("catalog", env, log_dir=tmp / "logs").start(timeout=120)
    # Warm it up before the first test: its first understanding builds lazy indexes, which on a
    # loaded CI machine has outlasted even the generous timeout below.
    eventually(lambda: httpx.get(f"{process.url}/api/v1/metiers/comprendre", params={"q": "boulanger"},
                                 timeout=30).status_code == 200, timeout=90, what="the catalog understands jobs")
    yield process
    process.stop()


@pytest.fixture
def client(make_client, catalog):
    # These tests are about what the answer says, not the production time budget (1.5 s): on a
    # loaded CI machine the catalog's first answers can take longer, and the intake would then
    # (rightly) accept the request unchecked.
    return make_client(catalog_url=catalog.url, catalog_timeout_s=10)


def test_the_api_answer_says_what_each_job_was_understood_as(client):
    response = client.post("/api/v1/requests", json=body(jobs=["boulangé", "Électriciennes"]))
    assert response.status_code == 202, response.text
    data = response.json()
    assert data["understanding_checked"] is True
    typo, plural = data["understood"]
    assert typo["status"] == "corrige" and typo["correction"] == "boulanger"
    assert typo["message"].startswith("Nous avons compris : Boulanger / Boulangère")
    assert "Vouliez-vous dire « boulanger » ?" in typo["message"]
    assert plural["status"] in {"compris", "vague"} and "Electricien" in plural["message"]


def test_an_unknown_job_is_refused_with_a_french_message_and_nothing_is_stored(client):
    before = counts(client)
    response = client.post("/api/v1/requests", json=body(jobs=["boulanger", "xqzwvk"]))
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert errors == [{"field": "jobs.1", "message": errors[0]["message"]}]
    assert errors[0]["message"].startswith("Métier non reconnu : « xqzwvk »")
    assert counts(client) == before


def test_the_form_refuses_an_unknown_job_and_thanks_with_what_it_understood(client):
    page = client.get("/demande")
    token = re.search(r'name="form_token" value="([^"]+)"', page.text).group(1)
    form = {"besoins": ["pfmp"], "metiers": ["xqzwvk", "", ""], "lieu": "69007", "entreprise": "Boulangerie Dupont",
            "nom": "Jeanne Martin", "email": "jeanne.martin@boulangerie-dupont.fr", "consentement": "oui",
            "form_token": token}
    refused = client.post("/demande", data=form, follow_redirects=False)
    assert refused.status_code == 422
    assert "Métier non reconnu : « xqzwvk »" in refused.text
    form.update(metiers=["boulangère", "", ""], form_token=token)
    accepted = client.post("/demande", data=form, follow_redirects=True)
    assert accepted.status_code == 200
    assert "Ce que nous avons compris" in accepted.text and "Boulanger / Boulangère" in accepted.text


def test_the_form_asks_what_a_job_means_as_it_is_typed(client):
    found = client.get("/api/v1/autocomplete/comprendre", params={"q": "plombié"}).json()
    assert found["status"] == "corrige" and found["message"].startswith("Nous avons compris : Plombier")


def test_without_the_catalog_the_request_is_accepted_as_typed(make_client):
    offline = make_client()  # catalog_url points at a closed port
    response = offline.post("/api/v1/requests", json=body(jobs=["xqzwvk"]))
    assert response.status_code == 202
    assert response.json()["understanding_checked"] is False and response.json()["understood"] == []


def test_the_form_says_when_the_dates_fall_during_the_chosen_lycees_pfmp(client):
    """The period field: what was understood, and the chosen lycée's PFMP read from the catalog over HTTP."""
    def ask(q: str, uai: str = "0693504J") -> dict:
        return client.get("/api/v1/autocomplete/periode", params={"q": q, "uai": uai}).json()

    during = ask("mars 2027")
    assert during["pfmp_fit"] is True and during["understood"] == "mars"
    assert during["message"] == ("Nous avons compris : mars. Vos dates (mars) tombent pendant la PFMP des 1re "
                                 "du lycée choisi.")
    outside = ask("juillet")
    assert outside["pfmp_fit"] is False and "ne tombent pendant aucune PFMP déclarée" in outside["message"]
    assert ask("mars", uai="")["pfmp_fit"] is None
    assert ask("dès que possible")["message"].startswith("Période non reconnue")
