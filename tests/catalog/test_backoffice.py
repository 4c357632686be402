"""The referents' back-office login (real SMTP): who may log in (a referent, or an académie's generic contact
while it has no referent, which the page says), one space's link or cookie never opens the other, and the
lists degrade to a French notice when the matcher and the notifier do not answer."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from services.catalog import repository as repo
from services.catalog.app import create_app
from services.catalog.models import MagicLinkToken
from services.catalog.service.magic import RBE_SESSION, issue_link_token, issue_session
from shared.platform.db import make_engine
from tests.catalog.support import catalog_settings
from tests.support.servers import free_port

pytestmark = pytest.mark.timeout(120)
GENERIC = "entreprises@ac-rennes.fr"


@pytest.fixture
def backoffice(catalog_url, sink, template_state):
    engine = make_engine(catalog_url)
    with Session(engine) as session:
        repo.upsert_referent(session, "camille.martin@ac-lyon.fr", "Lyon", "Camille Martin")
        repo.set_academie_fallback(session, "Lyon", "entreprises@ac-lyon.fr")
        repo.set_academie_fallback(session, "Rennes", GENERIC)
        session.commit()
    nowhere = f"http://127.0.0.1:{free_port()}"  # neither the matcher nor the notifier answers
    settings = catalog_settings(catalog_url, smtp_url=sink.url, catalog_public_url="http://testserver",
                                matcher_url=nowhere, notifier_api_url=nowhere)
    app = create_app(settings)
    app.state.catalog.seed_from(template_state)
    yield TestClient(app), settings, engine
    engine.dispose()


def _links(engine, email: str) -> int:
    with Session(engine) as session:
        return len(session.exec(select(MagicLinkToken).where(MagicLinkToken.email == email)).all())


def test_the_generic_contact_stands_in_until_a_referent_exists(backoffice, sink):
    client, _, engine = backoffice
    login = client.get("/referents")
    assert re.search(r"<td>Lyon</td><td>Camille Martin</td>", login.text)
    assert re.search(r"<td>Rennes</td><td>Pas encore de référent : le contact générique de l'académie</td>", login.text)
    # Same answer for anyone; a link only for those who may log in (Lyon's generic contact no longer may).
    for email in (GENERIC, "entreprises@ac-lyon.fr", "inconnu@ac-lyon.fr"):
        page = client.post("/referents", data={"email": email})
        assert page.status_code == 200 and "Vérifiez votre messagerie" in page.text
    assert (_links(engine, GENERIC), _links(engine, "entreprises@ac-lyon.fr"), _links(engine, "inconnu@ac-lyon.fr")) == (1, 0, 0)
    mail = sink.wait_for(1, timeout=10)[-1]
    assert mail.rcpt_tos == [GENERIC] and "suivi des demandes" in mail.msg["Subject"]
    link = re.search(r"http://testserver(/referents/connexion\?jeton=\S+)", mail.msg.get_content()).group(1)
    assert client.get(link, follow_redirects=False).headers["location"] == "/referents/tableau"
    board = client.get("/referents/tableau")
    assert board.status_code == 200 and "académie de Rennes" in board.text
    assert "Pas encore de référent pour cette académie" in board.text and "contact générique" in board.text
    assert board.text.count("momentanément indisponible") == 3  # the owners of the lists do not answer
    # The coverage of the académie's lycées (issue 22): its total, then each of its départements.
    assert re.search(r'<th scope="row">Académie de Rennes</th>\s*<td>\d+</td>', board.text)
    assert '<th scope="row">Département 35</th>' in board.text and "Département 69" not in board.text
    replay = TestClient(client.app).get(link, follow_redirects=False)
    assert replay.status_code == 400 and "déjà été utilisé" in replay.text


def test_one_space_never_opens_the_other(backoffice):
    client, settings, _ = backoffice
    rbe_cookie = issue_session(settings.secret_key, "camille.martin@ac-lyon.fr", RBE_SESSION)
    client.cookies.set("mlp_referent", rbe_cookie, path="/referents")
    assert client.get("/referents/tableau", follow_redirects=False).headers["location"] == "/referents"
    rbe_link, _ = issue_link_token(settings.secret_key, "camille.martin@ac-lyon.fr")
    refused = client.get(f"/referents/connexion?jeton={rbe_link}", follow_redirects=False)
    assert refused.status_code == 400 and "Connexion impossible" in refused.text
    expired = client.post("/referents/demandes/00000000-0000-0000-0000-000000000000/clore", data={"raison": "x"})
    assert expired.status_code == 403 and "Reconnectez-vous" in expired.text
