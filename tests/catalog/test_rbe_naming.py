"""Naming an RBE (issue 22): the school's signed link, the form (French errors, 422), a confirmation link to
each named RBE's own address (real SMTP sink), routing switched only on confirmation, the CatalogChanged the
notifier reads, a change of RBE telling the previous one, and the coverage figures (API and metrics)."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlmodel import Session

from services.catalog.app import create_app
from services.catalog.service.rbe_links import naming_token
from shared.contracts.events import CatalogChanged, event_from_payload
from shared.platform.db import make_engine
from shared.platform.outbox import OutboxEvent
from tests.catalog.support import catalog_settings

UAI = "0010001W"  # Lycée professionnel Alexandre Bérard, Ambérieu-en-Bugey (Ain, académie de Lyon)
SECRET = "cle-de-test-suffisamment-longue-0123456789"


@pytest.fixture
def naming_client(catalog_url, template_state, sink) -> TestClient:
    app = create_app(catalog_settings(catalog_url, smtp_url=sink.url, catalog_public_url="http://testserver"))
    app.state.catalog.seed_from(template_state)
    return TestClient(app)


def contact(client: TestClient, uai: str = UAI) -> dict:
    lycee = next(lyc for lyc in client.get("/api/v1/snapshot").json()["lycees"] if lyc["uai"] == uai)
    return {"email": lycee["rbe_email"], "generic": lycee["is_generic_contact"]}


def additional(client: TestClient, uai: str = UAI) -> list[dict]:
    """The lycée's other confirmed RBEs, as the matcher reads them."""
    lycee = next(lyc for lyc in client.get("/api/v1/snapshot").json()["lycees"] if lyc["uai"] == uai)
    return lycee["additional_rbes"]


def link_in(message, path: str) -> str:
    found = re.search(rf"http://testserver({re.escape(path)}\?jeton=\S+)", message.get_content())
    assert found, message.get_content()
    return found[1]


def rbe_events(catalog_url: str) -> list[CatalogChanged]:
    engine = make_engine(catalog_url)
    with Session(engine) as session:
        rows = session.execute(
            select(OutboxEvent.payload).where(OutboxEvent.event_type == "catalog.changed")
        ).scalars()
        events = [event_from_payload(json.loads(p)) for p in rows]
    engine.dispose()
    return [e for e in events if isinstance(e, CatalogChanged) and e.change == "rbe"]


def lyon(client: TestClient) -> dict:
    (line,) = client.get("/api/v1/couverture", params={"academie": "lyon"}).json()["academies"]
    return line


def name(client: TestClient, jeton: str, *people: tuple[str, str, str]):
    form = {"jeton": jeton}
    for i, (nom, email, fonction) in enumerate(people, start=1):
        form |= {f"nom_{i}": nom, f"email_{i}": email, f"fonction_{i}": fonction}
    return client.post("/designer-rbe", data=form)


def confirm(client: TestClient, link: str):
    page = client.get(link)
    assert page.status_code == 200 and "Je confirme" in page.text
    return client.post("/designer-rbe/confirmer", data={"jeton": link.split("jeton=")[1]})


def test_a_school_names_its_rbe_who_confirms_then_changes_it(naming_client, catalog_url, sink):
    client = naming_client
    jeton = naming_token(SECRET, UAI)
    before = contact(client)
    assert before["generic"] and before["email"] == "ce.0010001w@ac-lyon.fr"
    coverage_before = lyon(client)

    page = client.get("/designer-rbe", params={"jeton": jeton})
    assert (
        page.status_code == 200
        and "Alexandre Bérard" in page.text
        and "adresse officielle du lycée" in page.text
    )
    assert client.get("/designer-rbe", params={"jeton": jeton[:-3] + "abc"}).status_code == 400
    refused = name(client, jeton, ("Camille Martin", "camille.martin@", "DDFPT"))
    assert refused.status_code == 422 and "Adresse électronique invalide" in refused.text
    assert 'aria-invalid="true"' in refused.text and not sink.snapshot()
    assert name(client, jeton).status_code == 422  # nobody named

    done = name(
        client,
        jeton,
        ("Camille Martin", "Camille.Martin@ac-lyon.fr", "DDFPT"),
        ("Lou Rossi", "lou.rossi@ac-lyon.fr", "Professeur"),
    )
    assert done.status_code == 200 and "Merci, votre désignation est enregistrée" in done.text
    (camille,) = sink.to("camille.martin@ac-lyon.fr")
    (lou,) = sink.to("lou.rossi@ac-lyon.fr")
    assert camille["Subject"] == "Confirmez votre désignation comme RBE — MonLycéePro"
    assert contact(client)["generic"]  # nothing routed to them before they confirm
    assert additional(client) == []

    confirmed = confirm(client, link_in(camille, "/designer-rbe/confirmer"))
    assert confirmed.status_code == 200 and "C'est confirmé" in confirmed.text
    assert contact(client) == {"email": "camille.martin@ac-lyon.fr", "generic": False}
    assert additional(client) == []  # Lou has not confirmed yet
    (event,) = rbe_events(catalog_url)
    (change,) = event.rbe_changes
    assert (change.previous_email, change.new_email, change.replaces) == (
        "ce.0010001w@ac-lyon.fr",
        "camille.martin@ac-lyon.fr",
        True,
    )
    assert change.lycee_name == "Lycée professionnel Alexandre Bérard"
    after = lyon(client)
    assert (
        after["avec_rbe"] == coverage_before["avec_rbe"] + 1 and after["lycees"] == coverage_before["lycees"]
    )
    metrics = client.get("/metrics").text
    assert re.search(
        r'mlp_catalog_network_lycees_with_rbe\{academie="Lyon",departement="01"\} [1-9]', metrics
    )

    # The second named RBE confirms too: added next to Camille, who keeps the routing.
    assert "C'est confirmé" in confirm(client, link_in(lou, "/designer-rbe/confirmer")).text
    assert contact(client)["email"] == "camille.martin@ac-lyon.fr"
    # ...and copied on every new request routed to the lycée (the snapshot the matcher reads).
    assert additional(client) == [{"email": "lou.rossi@ac-lyon.fr", "name": "Lou Rossi"}]
    assert rbe_events(catalog_url)[-1].rbe_changes[0].replaces is False
    assert (
        "C'est confirmé"
        in client.post(
            "/designer-rbe/confirmer",
            data={"jeton": link_in(lou, "/designer-rbe/confirmer").split("jeton=")[1]},
        ).text
    )  # a second click: same page

    # The school changes its RBE the same way; Camille is told once Sacha confirms.
    name(client, jeton, ("Sacha Petit", "sacha.petit@ac-lyon.fr", "DDFPT"))
    (sacha,) = sink.to("sacha.petit@ac-lyon.fr")
    assert contact(client)["email"] == "camille.martin@ac-lyon.fr"
    assert additional(client) == [{"email": "lou.rossi@ac-lyon.fr", "name": "Lou Rossi"}]  # until Sacha confirms
    confirm(client, link_in(sacha, "/designer-rbe/confirmer"))
    assert contact(client)["email"] == "sacha.petit@ac-lyon.fr"
    assert additional(client) == []  # Camille and Lou were replaced: no new request reaches them
    told = sink.to("camille.martin@ac-lyon.fr")[-1]
    assert "un autre RBE a été désigné" in told["Subject"] and "Sacha Petit" in told.get_content()
    assert len(sink.to("camille.martin@ac-lyon.fr")) == 2  # her confirmation link, then the notice
    assert lyon(client)["avec_rbe"] == coverage_before["avec_rbe"] + 1


def test_a_withdrawn_naming_cannot_be_confirmed(naming_client, sink):
    client = naming_client
    jeton = naming_token(SECRET, UAI)
    name(client, jeton, ("Camille Martin", "camille.martin@ac-lyon.fr", ""))
    name(client, jeton, ("Lou Rossi", "lou.rossi@ac-lyon.fr", ""))  # the school corrected itself
    (first,) = sink.to("camille.martin@ac-lyon.fr")
    link = link_in(first, "/designer-rbe/confirmer")
    assert "n'est plus valable" in client.get(link).text
    stale = client.post("/designer-rbe/confirmer", data={"jeton": link.split("jeton=")[1]})
    assert stale.status_code == 404 and contact(client)["generic"]
    assert client.post("/designer-rbe/confirmer", data={"jeton": "abc.def"}).status_code == 400


def test_coverage_endpoint_answers_by_academie_and_departement(naming_client):
    figures = naming_client.get("/api/v1/couverture").json()
    assert figures["total"]["lycees"] > 4000
    assert sum(a["lycees"] for a in figures["academies"]) == figures["total"]["lycees"]
    ain = next(d for d in figures["departements"] if d["departement"] == "01")
    assert ain["academie"] == "Lyon" and 0 <= ain["part_rbe"] <= 1
    unknown = naming_client.get("/api/v1/couverture", params={"academie": "Atlantide"})
    assert unknown.status_code == 404 and "Académie inconnue" in unknown.json()["detail"]


def test_an_imported_rbe_routes_only_once_confirmed_for_all_their_lycees(naming_client, catalog_url, sink):
    from tests.catalog.support import ADMIN_TOKEN

    client = naming_client
    csv = "name,email,uais,deputy_email\nAlex Durand,alex.durand@ac-lyon.fr,0010001W;0693504J,\n"
    imported = client.post(
        "/api/v1/admin/rbe/import",
        content=csv.encode(),
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "text/csv"},
    )
    assert imported.status_code == 200 and imported.json() == {
        "imported": 1,
        "awaiting_confirmation": 1,
        "errors": [],
    }
    assert (
        contact(client)["generic"] and contact(client, "0693504J")["generic"]
    )  # the previous addresses still
    (link_mail,) = sink.to("alex.durand@ac-lyon.fr")  # one link for both lycées
    assert "C'est confirmé" in confirm(client, link_in(link_mail, "/designer-rbe/confirmer")).text
    assert contact(client)["email"] == contact(client, "0693504J")["email"] == "alex.durand@ac-lyon.fr"
    (event,) = rbe_events(catalog_url)
    assert sorted(c.uai for c in event.rbe_changes) == ["0010001W", "0693504J"]


def test_a_school_asks_for_a_new_link_sent_to_its_official_address_only(naming_client, sink):
    client = naming_client
    page = client.get("/designer-rbe")
    assert page.status_code == 200 and "Recevoir le lien à l'adresse du lycée" in page.text
    refused = client.post("/designer-rbe/lien", data={"uai": "pas une uai"})
    assert refused.status_code == 422 and "UAI invalide" in refused.text and not sink.snapshot()
    for _ in range(2):  # twice in the hour: one email
        sent = client.post("/designer-rbe/lien", data={"uai": "0010001w"})
        assert sent.status_code == 200 and "un lien vient d'être envoyé" in sent.text
    assert client.post("/designer-rbe/lien", data={"uai": "0999999Z"}).status_code == 200  # same answer
    (message,) = sink.to("ce.0010001w@ac-lyon.fr")
    assert [m.to for m in sink.snapshot()] == ["ce.0010001w@ac-lyon.fr"]
    assert "a été demandé" in message.get_content()
    link = link_in(message, "/designer-rbe")
    assert "Alexandre Bérard" in client.get(link).text  # the naming page of that lycée
