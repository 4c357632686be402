"""CORS for partners' origins, and the embedded form at HTTP level (the path a browser without
JavaScript takes inside the partner's frame): Content-Security-Policy frame-ancestors, attribution
verified on the server, the thank-you page in the frame, French 404 for unknown or disabled partners."""

from __future__ import annotations

import html
import re

from sqlmodel import Session, select

from services.intake.models import CompanyRequest
from services.intake.partners import admin
from tests.intake.partner_support import register, reload
from tests.intake.support import body, counts, engine_of
from tests.intake.test_form import FORM

LISTED = "https://www.lesentreprises-sengagent.gouv.fr"
UNLISTED = "https://evil.example"


def _preflight(client, origin: str, path: str = "/api/v1/requests"):
    return client.options(path, headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                         "Access-Control-Request-Headers": "content-type,x-api-key"})


def test_cors_is_allowed_for_a_partner_s_origins_only(client):
    partner = register(client)
    allowed = _preflight(client, LISTED)
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == LISTED
    assert "x-api-key" in allowed.headers["access-control-allow-headers"].lower()
    assert "POST" in allowed.headers["access-control-allow-methods"]
    refused = _preflight(client, UNLISTED)
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
    assert refused.json()["detail"].startswith("Cette origine n'est pas autorisée")
    # the actual calls
    ok = client.post("/api/v1/requests", json=body(), headers={"Origin": LISTED, "X-API-Key": partner.key})
    assert ok.status_code == 202 and ok.headers["access-control-allow-origin"] == LISTED
    assert "Origin" in ok.headers["vary"]
    other = client.post("/api/v1/requests", json=body(), headers={"Origin": UNLISTED})
    assert "access-control-allow-origin" not in other.headers
    for origin in ("null", LISTED + ":8443", LISTED.replace("https", "http"), LISTED + "/"):
        assert "access-control-allow-origin" not in _preflight(client, origin).headers, origin
    # errors carry it too, so the partner's page can read them
    refused_key = client.post("/api/v1/requests", json=body(), headers={"Origin": LISTED, "X-API-Key": "x"})
    assert refused_key.status_code == 401 and refused_key.headers["access-control-allow-origin"] == LISTED
    # a call without Origin (servers, curl) is untouched
    plain = client.get("/api/v1/impact")
    assert not [h for h in plain.headers if h.startswith("access-control")] and "vary" not in plain.headers
    # pages are not CORS-enabled
    assert "access-control-allow-origin" not in client.get("/demande", headers={"Origin": LISTED}).headers


def test_a_disabled_partner_s_origins_are_refused_once_reloaded(client):
    register(client)
    admin.set_enabled(engine_of(client), "lese", False)
    reload(client)
    assert _preflight(client, LISTED).status_code == 403
    admin.set_enabled(engine_of(client), "lese", True)
    admin.change_origins(engine_of(client), "lese", add=["https://nouveau.example.fr"], remove=[LISTED])
    reload(client)
    assert _preflight(client, LISTED).status_code == 403
    assert _preflight(client, "https://nouveau.example.fr").status_code == 204


def test_the_registry_reloads_itself(make_client):
    client = make_client(partner_refresh_s=0.05)
    admin.add_partner(engine_of(client), "orion", "Orion", ["https://orion.example.fr"])
    from tests.support.eventually import eventually

    eventually(lambda: _preflight(client, "https://orion.example.fr").status_code == 204, timeout=10,
               what="the refresh task loaded the new partner")


# ------------------------------------------------------------- the embedded form, without JavaScript
def _embedded_token(client, slug: str = "lese") -> str:
    page = client.get(f"/integrer/{slug}")
    assert page.status_code == 200
    return re.search(r'name="form_token" value="([^"]+)"', page.text).group(1)


def test_the_embedded_form_is_framable_by_the_partner_only(client):
    register(client, origins=(LISTED, "http://localhost:3000"))
    page = client.get("/integrer/lese")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == f"frame-ancestors {LISTED} http://localhost:3000"
    assert "x-frame-options" not in page.headers
    text = html.unescape(page.text)
    assert "Formulaire proposé par <strong>Les Entreprises s'Engagent</strong> avec MonLycéePro" in text
    assert 'action="/integrer/lese"' in page.text
    assert 'class="fr-header"' not in page.text and 'class="fr-footer"' not in page.text  # no site header/footer
    assert "/static/integrer.js" in page.text and "/static/demande.js" in page.text
    # the site's own form is unchanged
    direct = client.get("/demande")
    assert 'action="/demande"' in direct.text and 'class="fr-header"' in direct.text
    assert "content-security-policy" not in direct.headers and "Formulaire proposé par" not in direct.text


def test_the_embedded_form_submits_without_javascript_and_is_attributed(client):
    register(client)
    token = _embedded_token(client)
    sent = client.post("/integrer/lese", data={**FORM, "form_token": token}, follow_redirects=False)
    assert sent.status_code == 303, sent.text
    thanks_url = sent.headers["location"]
    assert re.fullmatch(r"/integrer/lese/merci/[\w-]{32}", thanks_url)
    thanks = client.get(thanks_url)
    assert thanks.status_code == 200 and "Votre demande est bien enregistrée" in thanks.text
    assert thanks.headers["content-security-policy"] == f"frame-ancestors {LISTED}"
    assert 'class="fr-header"' not in thanks.text
    assert re.search(r'id="lien-suivi" href="http://intake.test/suivi/[\w-]{32}" target="_blank"', thanks.text)
    with Session(engine_of(client)) as session:
        [stored] = session.exec(select(CompanyRequest)).all()
    assert (stored.source_kind, stored.source_partner, stored.channel) == ("embed", "lese", "form")
    # the thank-you page of a request taken elsewhere is not shown under this partner
    direct = client.post("/demande", data={**FORM, "form_token": token}, follow_redirects=False)
    direct_token = direct.headers["location"].rsplit("/", 1)[1]
    assert client.get(f"/integrer/lese/merci/{direct_token}").status_code == 404


def test_mistakes_are_shown_again_inside_the_frame(client):
    register(client)
    token = _embedded_token(client)
    again = client.post("/integrer/lese", data={**FORM, "email": "jeanne@yopmail.com", "form_token": token})
    assert again.status_code == 422
    assert again.headers["content-security-policy"] == f"frame-ancestors {LISTED}"
    assert 'id="erreurs"' in again.text and 'action="/integrer/lese"' in again.text
    assert 'class="fr-header"' not in again.text and 'value="Boulangerie Dupont"' in again.text
    assert counts(client) == (0, 0)


def test_unknown_or_disabled_partners_get_a_french_404_and_nothing_is_stored(client):
    register(client)
    token = _embedded_token(client)
    unknown = client.get("/integrer/inconnu")
    assert unknown.status_code == 404 and "Ce formulaire n'est pas disponible" in html.unescape(unknown.text)
    assert unknown.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert client.post("/integrer/inconnu", data={**FORM, "form_token": token}).status_code == 404
    admin.set_enabled(engine_of(client), "lese", False)
    disabled = client.get("/integrer/lese")
    assert disabled.status_code == 404
    assert disabled.headers["content-security-policy"] == f"frame-ancestors {LISTED}"  # its site can say so
    assert client.post("/integrer/lese", data={**FORM, "form_token": token}).status_code == 404
    assert client.get("/integrer/lese/code").status_code == 404
    assert counts(client) == (0, 0)


def test_the_snippet_page_gives_the_one_snippet_to_paste(client):
    register(client)
    page = client.get("/integrer/lese/code")
    assert page.status_code == 200 and page.headers["content-security-policy"] == "frame-ancestors 'none'"
    snippet = html.unescape(re.search(r'<code>(.*?)</code>', page.text, re.S).group(1))
    assert '<iframe id="monlyceepro-lese" src="http://intake.test/integrer/lese"' in snippet
    assert 'e.origin !== "http://intake.test"' in snippet and "monlyceepro:hauteur" in snippet
    assert LISTED in page.text
