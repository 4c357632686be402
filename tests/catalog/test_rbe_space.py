"""RBE self-service: magic link by real SMTP (aiosmtpd on loopback), single use, expiry, tampering, edits."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from services.catalog import repository as repo
from services.catalog.app import create_app
from services.catalog.service.magic import issue_link_token
from shared.platform.db import make_engine
from shared.platform.outbox import OutboxEvent
from tests.catalog.support import catalog_settings
from tests.support.smtp import SmtpSink

pytestmark = pytest.mark.timeout(120)
RBE_EMAIL = "camille.martin@ac-lyon.fr"


@pytest.fixture
def rbe_client(catalog_url, sink, template_state):
    engine = make_engine(catalog_url)
    with Session(engine) as session:
        repo.upsert_rbe(session, RBE_EMAIL, "Camille Martin", None)
        repo.assign_coverage(session, RBE_EMAIL, ["0693504J", "0692516K"])
        repo.bump_version(session)
        session.commit()
    engine.dispose()
    settings = catalog_settings(catalog_url, smtp_url=sink.url, catalog_public_url="http://testserver")
    app = create_app(settings)
    app.state.catalog.seed_from(template_state)
    return TestClient(app), settings


def _ask_link(client: TestClient, sink: SmtpSink, email: str = RBE_EMAIL) -> str:
    page = client.post("/espace-rbe", data={"email": email})
    assert page.status_code == 200 and "Vérifiez votre messagerie" in page.text
    last = sink.wait_for(1, timeout=10)[-1]
    rcpts, msg = last.rcpt_tos, last.msg
    assert rcpts == [RBE_EMAIL] and "espace RBE" in msg["Subject"]
    return re.search(r"(http://testserver/espace-rbe/connexion\?jeton=\S+)", msg.get_content()).group(1)


def test_magic_link_logs_in_once_and_edits_publish_changes(rbe_client, sink, catalog_url):
    client, _ = rbe_client
    link = _ask_link(client, sink)
    opened = client.get(link, follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == "/espace-rbe/mes-lycees"
    dashboard = client.get("/espace-rbe/mes-lycees")
    assert dashboard.status_code == 200 and "Lycée polyvalent François Rabelais" in dashboard.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', dashboard.text).group(1)

    saved = client.post("/espace-rbe/lycees/0693504J", data={
        "csrf": csrf, "pitch": "Nos apprentis boulangers vous attendent.", "services": ["pfmp", "apprentissage"],
        "pfmp_periods": "Du 12 janvier au 6 février", "monthly_capacity": "4"}, follow_redirects=False)
    assert saved.status_code == 303
    absent = client.post("/espace-rbe/absence", data={
        "csrf": csrf, "absent_from": "2026-12-01", "absent_until": "2026-12-20",
        "deputy_email": "dominique.petit@ac-lyon.fr"}, follow_redirects=False)
    assert absent.status_code == 303
    snap = {lyc["uai"]: lyc for lyc in client.get("/api/v1/snapshot").json()["lycees"]}
    assert snap["0693504J"]["services"] == ["pfmp", "apprentissage"] and snap["0693504J"]["monthly_capacity"] == 4
    assert snap["0692516K"]["absent_until"] == "2026-12-20" and snap["0692516K"]["deputy_email"] == "dominique.petit@ac-lyon.fr"
    profile = client.get("/lycees/0693504J")
    assert "Nos apprentis boulangers vous attendent." in profile.text and "Accueil de stagiaires (PFMP)" in profile.text

    engine = make_engine(catalog_url)
    with Session(engine) as session:
        changes = [json.loads(r.payload)["data"]["change"] for r in session.exec(select(OutboxEvent)).all()]
    engine.dispose()
    assert changes[-2:] == ["capacity", "absence"]

    # Replay: the same link a second time is refused.
    replay = TestClient(client.app).get(link, follow_redirects=False)
    assert replay.status_code == 400 and "déjà été utilisé" in replay.text


def test_invalid_edits_are_refused_in_french(rbe_client, sink):
    client, _ = rbe_client
    client.get(_ask_link(client, sink))
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/espace-rbe/mes-lycees").text).group(1)
    bad = client.post("/espace-rbe/lycees/0693504J", data={"csrf": csrf, "monthly_capacity": "beaucoup",
                                                           "services": ["licorne"]})
    assert bad.status_code == 422 and "nombre entier" in bad.text and "Service inconnu" in bad.text
    other = client.post("/espace-rbe/lycees/0010001W", data={"csrf": csrf})
    assert other.status_code == 403 and "ne fait pas partie" in other.text
    forged = client.post("/espace-rbe/lycees/0693504J", data={"csrf": "faux", "pitch": "x"})
    assert forged.status_code == 403
    dates = client.post("/espace-rbe/absence", data={"csrf": csrf, "absent_from": "2026-12-20", "absent_until": "2026-12-01"})
    assert dates.status_code == 422 and "après son début" in dates.text


def test_tampered_and_expired_links_are_refused(rbe_client, sink):
    client, settings = rbe_client
    link = _ask_link(client, sink)
    token = link.split("jeton=", 1)[1]
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    response = client.get(f"/espace-rbe/connexion?jeton={tampered}", follow_redirects=False)
    assert response.status_code == 400 and "pas valide" in response.text
    assert "mlp_rbe" not in response.cookies
    forged_other_user = issue_link_token("une-autre-cle", RBE_EMAIL)[0]
    assert client.get(f"/espace-rbe/connexion?jeton={forged_other_user}").status_code == 400
    expired, _ = issue_link_token(settings.secret_key, RBE_EMAIL, now=time.time() - 31 * 60)
    response = client.get(f"/espace-rbe/connexion?jeton={expired}", follow_redirects=False)
    assert response.status_code == 400 and "expiré" in response.text
    assert client.get("/espace-rbe/mes-lycees", follow_redirects=False).status_code == 303  # still not logged in


def test_a_signed_link_never_issued_is_not_called_used(rbe_client):
    """Signed with the right key but never issued from this database (another installation, a reset):
    the page says so, instead of claiming it was already used."""
    client, settings = rbe_client
    never_issued, _ = issue_link_token(settings.secret_key, RBE_EMAIL)
    response = client.get(f"/espace-rbe/connexion?jeton={never_issued}", follow_redirects=False)
    assert response.status_code == 400 and "mlp_rbe" not in response.cookies
    assert "déjà été utilisé" not in response.text and "pas été délivré par ce service" in response.text
    assert 'data-kind="unknown"' in response.text


def test_unknown_address_gets_the_same_answer_and_no_mail(rbe_client, sink):
    client, _ = rbe_client
    page = client.post("/espace-rbe", data={"email": "inconnu@example.fr"})
    assert page.status_code == 200 and "Vérifiez votre messagerie" in page.text
    bad = client.post("/espace-rbe", data={"email": "pas-une-adresse"})
    assert bad.status_code == 422 and "Adresse électronique invalide" in bad.text
    _ask_link(client, sink)  # a known address, sent after: the only message that arrives is this one
    assert [m.rcpt_tos for m in sink.messages] == [[RBE_EMAIL]]


def test_magic_links_are_limited_per_address_with_the_same_page(rbe_client, sink):
    """Asking again and again sends at most three links an hour to an address; the page never changes."""
    client, settings = rbe_client
    pages = [client.post("/espace-rbe", data={"email": RBE_EMAIL}) for _ in range(6)]
    unknown = client.post("/espace-rbe", data={"email": "inconnu@example.fr"})
    assert {p.status_code for p in pages} == {unknown.status_code} == {200}
    assert all("Vérifiez votre messagerie" in p.text for p in [*pages, unknown])
    sink.wait_for(3, timeout=10)
    time.sleep(0.5)  # a fourth email would have arrived by now (sent after each response)
    assert len(sink.messages) == 3
    with Session(make_engine(settings.database_url)) as session:
        assert repo.magic_links_since(session, RBE_EMAIL, datetime.now(UTC) - timedelta(hours=1)) == 3


def test_magic_links_are_limited_per_ip(rbe_client, sink):
    client, _settings = rbe_client
    answers = [client.post("/espace-rbe", data={"email": f"inconnu{i}@example.fr"}).status_code for i in range(12)]
    assert answers == [200] * 10 + [429, 429]
    refused = client.post("/espace-rbe", data={"email": RBE_EMAIL})
    assert refused.status_code == 429 and "Trop de demandes" in refused.text
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert sink.messages == []
