"""Pilot académies at intake (issue 20, item 1), against a real Redis: the notice before submitting (JSON
endpoint, form without JavaScript, API answer), the request always stored with ``in_pilot``, and
``monlyceepro pilot`` changing a running intake without restart."""

from __future__ import annotations

import html
import json
import re

import pytest
from sqlmodel import Session, select

from services.intake import repository
from services.intake.config import get_intake_settings
from services.intake.models import CompanyRequest
from services.intake.pilot_cli import pilot as pilot_command
from shared.platform.db import unit_of_work
from shared.platform.outbox import OutboxEvent
from tests.intake.support import body, counts, engine_of
from tests.support.eventually import eventually

GRENOBLE_NOTICE = (
    "Le service s'ouvre d'abord dans l'académie de Lyon ; votre demande sera transmise à la personne "
    "référente entreprises de l'académie de Grenoble (à défaut, l'équipe nationale de MonLycéePro)."
)
FORM = {
    "besoins": ["pfmp"],
    "metiers": ["Boulanger", "", ""],
    "lieu": "38000",
    "rayon_km": "30",
    "entreprise": "Boulangerie Alpine",
    "nom": "Jeanne Martin",
    "email": "jeanne.martin@boulangerie-alpine.fr",
    "telephone": "",
    "message": "",
    "consentement": "oui",
    "places": "",
    "periode": "",
    "site_web": "",
}


@pytest.fixture
def pilot_client(make_client):
    return make_client(pilot_academies="Lyon", pilot_refresh_s=0.05)


@pytest.fixture
def run_pilot(monkeypatch, redis_url):
    """``monlyceepro pilot …`` as an operator runs it, on the test's Redis, with MLP_PILOT_ACADEMIES=Lyon."""
    monkeypatch.setenv("MLP_REDIS_URL", redis_url)
    monkeypatch.setenv("MLP_PILOT_ACADEMIES", "Lyon")
    get_intake_settings.cache_clear()
    yield pilot_command
    get_intake_settings.cache_clear()


def _stored(client) -> list[tuple[bool, str | None, dict]]:
    with Session(engine_of(client)) as session:
        rows = session.exec(select(CompanyRequest).order_by(CompanyRequest.created_at)).all()
        events = session.exec(select(OutboxEvent).where(OutboxEvent.event_type == "request.submitted")).all()
        data = {json.loads(e.payload)["data"]["request_id"]: json.loads(e.payload)["data"] for e in events}
        return [(r.in_pilot, r.academie, data[r.id]) for r in rows]


def _pilot(client, commune: str) -> dict:
    response = client.get("/api/v1/pilote", params={"commune": commune})
    assert response.status_code == 200
    return response.json()


def test_the_endpoint_tells_outside_the_pilot_only(pilot_client):
    assert _pilot(pilot_client, "38000") == {
        "commune": "Grenoble (38000)",
        "academie": "Grenoble",
        "in_pilot": False,
        "notice": GRENOBLE_NOTICE,
        "pilot_academies": ["Lyon"],
    }
    lyon = _pilot(pilot_client, "Lyon 7e Arrondissement (69007)")
    assert lyon["academie"] == "Lyon" and lyon["in_pilot"] and lyon["notice"] is None
    assert _pilot(pilot_client, "Nulle-Part")["notice"] is None  # unknown commune: the form says so itself
    spec = pilot_client.get("/openapi.json").json()
    assert "/api/v1/pilote" in spec["paths"]


def test_the_api_accepts_outside_the_pilot_and_returns_the_notice(pilot_client):
    outside = pilot_client.post("/api/v1/requests", json=body(location={"postal_code": "38000"}))
    assert outside.status_code == 202
    assert outside.json()["in_pilot"] is False
    assert outside.json()["pilot_notice"] == GRENOBLE_NOTICE
    assert outside.json()["message"] == "Demande reçue. " + GRENOBLE_NOTICE
    inside = pilot_client.post("/api/v1/requests", json=body(contact__email="autre@boulangerie-dupont.fr"))
    assert (
        inside.status_code == 202
        and inside.json()["in_pilot"] is True
        and inside.json()["pilot_notice"] is None
    )
    [(in_pilot_1, academie_1, event_1), (in_pilot_2, academie_2, event_2)] = _stored(pilot_client)
    assert (in_pilot_1, academie_1, event_1["in_pilot"], event_1["pilot_notice"]) == (
        False,
        "Grenoble",
        False,
        GRENOBLE_NOTICE,
    )
    assert (in_pilot_2, academie_2, event_2["in_pilot"], event_2["pilot_notice"]) == (
        True,
        "Lyon",
        True,
        None,
    )


def _token(page: str) -> str:
    return re.search(r'name="form_token" value="([^"]+)"', page).group(1)


def test_without_javascript_the_form_asks_for_confirmation_before_storing(pilot_client):
    token = _token(pilot_client.get("/demande").text)
    first = pilot_client.post("/demande", data={**FORM, "form_token": token}, follow_redirects=False)
    assert first.status_code == 200
    assert 'id="pilote-confirmation"' in first.text and GRENOBLE_NOTICE.replace("'", "&#39;") in first.text
    assert counts(pilot_client) == (0, 0)  # nothing stored before the company confirmed
    assert 'name="pilote_vu" id="pilote_vu" value="Grenoble"' in first.text
    assert _token(first.text) == token  # the same form: its fill time is not counted again
    confirmed = pilot_client.post(
        "/demande", data={**FORM, "form_token": token, "pilote_vu": "Grenoble"}, follow_redirects=False
    )
    assert confirmed.status_code == 303
    thanks = pilot_client.get(confirmed.headers["location"]).text
    assert 'id="hors-pilote"' in thanks and "académie de Grenoble" in thanks
    [(in_pilot, academie, _)] = _stored(pilot_client)
    assert (in_pilot, academie) == (False, "Grenoble")


def test_a_notice_seen_for_another_academie_is_asked_again(pilot_client):
    token = _token(pilot_client.get("/demande").text)
    page = pilot_client.post(
        "/demande", data={**FORM, "form_token": token, "pilote_vu": "Créteil"}, follow_redirects=False
    )
    assert page.status_code == 200 and 'id="pilote-confirmation"' in page.text
    assert counts(pilot_client) == (0, 0)


def test_inside_the_pilot_the_form_is_unchanged(pilot_client):
    token = _token(pilot_client.get("/demande").text)
    response = pilot_client.post(
        "/demande", data={**FORM, "lieu": "69007", "form_token": token}, follow_redirects=False
    )
    assert response.status_code == 303


def test_the_pilot_command_changes_a_running_intake_without_restart(pilot_client, run_pilot, capsys):
    assert not _pilot(pilot_client, "38000")["in_pilot"]
    assert run_pilot(["add", "grenoble"]) == 0
    assert "Académies pilotes : Grenoble, Lyon" in capsys.readouterr().out
    eventually(lambda: _pilot(pilot_client, "38000")["in_pilot"], timeout=10, what="Grenoble in the pilot")
    accepted = pilot_client.post("/api/v1/requests", json=body(location={"postal_code": "38000"}))
    assert accepted.json()["in_pilot"] is True

    assert run_pilot(["set", "Créteil"]) == 0
    eventually(
        lambda: not _pilot(pilot_client, "69007")["in_pilot"], timeout=10, what="Lyon out of the pilot"
    )
    assert _pilot(pilot_client, "94000")["in_pilot"]

    assert run_pilot(["clear"]) == 0  # everywhere
    eventually(lambda: _pilot(pilot_client, "38000")["pilot_academies"] == [], timeout=10, what="everywhere")
    assert _pilot(pilot_client, "38000")["in_pilot"]

    assert run_pilot(["reset"]) == 0  # back to MLP_PILOT_ACADEMIES
    assert "Source : le réglage" in capsys.readouterr().out
    eventually(lambda: _pilot(pilot_client, "38000")["pilot_academies"] == ["Lyon"], timeout=10, what="reset")


def test_the_pilot_command_refuses_in_french_and_changes_nothing(run_pilot, capsys, redis_url):
    assert run_pilot(["set", "Lyon,Gotham"]) == 2
    assert "Académie(s) inconnue(s) dans la liste pilote : Gotham." in capsys.readouterr().out
    assert run_pilot(["remove", "Grenoble"]) == 2
    assert "Pas dans la liste pilote actuelle : Grenoble." in capsys.readouterr().out
    assert run_pilot(["remove", "Lyon"]) == 2
    assert "pilot clear" in capsys.readouterr().out
    assert run_pilot(["show"]) == 0
    out = capsys.readouterr().out
    assert "Académies pilotes : Lyon" in out and "Source : le réglage" in out
    with pytest.raises(SystemExit):
        run_pilot(["set"])


def _received_by_row(page: str, table_id: str) -> dict[str, str]:
    """One figures table of the impact page: row heading -> its « Demandes reçues » cell, as shown."""
    table = re.search(rf'id="{table_id}">(.*?)</table>', html.unescape(page), re.S)
    assert table, table_id
    return dict(re.findall(r'<th scope="row">([^<]+)</th><td>([^<]+)</td>', table.group(1)))


def test_the_impact_figures_are_split_by_pilot_and_by_source(database_url, make_client):
    """Enough requests per group (the publication threshold is 5) for the page to show the counts, and one
    group under it, shown « moins de 5 »."""
    pilot_client = make_client(database_url, pilot_academies="Lyon")

    def submit(n: int, postal_code: str, tag: str) -> list[str]:
        ids = []
        for i in range(n):
            response = pilot_client.post("/api/v1/requests", json=body(
                location={"postal_code": postal_code}, contact__email=f"{tag}{i}@boulangerie-dupont.fr"))
            assert response.status_code == 202, response.text
            ids.append(response.json()["request_id"])
        return ids

    submit(5, "69007", "lyon")
    grenoble = submit(7, "38000", "grenoble")
    with unit_of_work(engine_of(pilot_client)) as session:  # as if taken through a campaign, a partner's form
        for request_id in grenoble[:5]:
            repository.update_request(session, request_id, source_kind="campaign")
        repository.update_request(session, grenoble[5], source_kind="embed")

    figures = pilot_client.get("/api/v1/impact", params={"period": "tout"}).json()
    assert [(p["pilot"], p["label"], p["received"]) for p in figures["by_pilot"]] == [
        ("inside", "Académies pilotes", 5),
        ("outside", "Hors académies pilotes", 7),
    ]
    assert [(s["source"], s["received"]) for s in figures["by_source"]] == [
        ("api", 6), ("embed", None), ("campaign", 5)]  # under 5: null, « moins de 5 »
    v2 = pilot_client.get("/api/v2/impact", params={"period": "tout"}).json()
    assert [(p["pilot"], p["received"]) for p in v2["by_pilot"]] == [("inside", 5), ("outside", 7)]
    assert [(s["source"], s["received"]) for s in v2["by_source"]] == [
        ("form", 6), ("partner", None), ("campaign", 5)]

    page = pilot_client.get("/impact?periode=tout").text
    assert _received_by_row(page, "par-pilote") == {"Académies pilotes": "5", "Hors académies pilotes": "7"}
    assert _received_by_row(page, "par-origine") == {
        "Formulaire MonLycéePro": "6", "Site partenaire": "moins de 5", "Campagne d'invitation": "5"}


def test_campaigns_follow_the_live_pilot_list(run_pilot, redis_url):
    from services.intake.campaigns.pilot import in_pilot, live_override, pilot_academies

    settings = get_intake_settings()
    assert live_override(redis_url) is None and pilot_academies(settings, None) == {"lyon"}
    assert run_pilot(["add", "Grenoble"]) == 0
    pilot = pilot_academies(settings, live_override(redis_url))
    assert in_pilot("Grenoble", pilot) and in_pilot("Lyon", pilot) and not in_pilot("Créteil", pilot)
    assert run_pilot(["clear"]) == 0
    assert pilot_academies(settings, live_override(redis_url)) == frozenset()  # everywhere
    assert live_override("redis://127.0.0.1:1/0") is None  # Redis unreachable: the setting
