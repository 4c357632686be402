"""The web form's anti-spam guards and server-side validation (no JavaScript needed)."""

from __future__ import annotations

import html
import re

from prometheus_client import REGISTRY

from tests.intake.support import counts
from tests.support.clock import FakeClock

FORM = {
    "besoins": ["pfmp", "visite"], "metiers": ["Boulanger", "", ""], "lieu": "69007", "rayon_km": "30",
    "entreprise": "Boulangerie Dupont", "nom": "Jeanne Martin", "email": "jeanne.martin@boulangerie-dupont.fr",
    "telephone": "", "message": "", "consentement": "oui", "places": "2", "periode": "", "site_web": "",
}


def _token(client, query: str = "") -> str:
    page = client.get("/demande" + query)
    assert page.status_code == 200
    return re.search(r'name="form_token" value="([^"]+)"', page.text).group(1)


def _post(client, token: str | None = None, **changes):
    data = {**FORM, **changes, "form_token": token if token is not None else _token(client)}
    return client.post("/demande", data=data, follow_redirects=False)


def _rejected(reason: str) -> float:
    return REGISTRY.get_sample_value("mlp_requests_rejected_total", {"channel": "form", "reason": reason}) or 0.0


def test_form_submission_redirects_to_the_confirmation_page(client):
    response = _post(client)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/demande/merci/")
    page = client.get(response.headers["location"])
    assert "Votre demande est bien enregistrée" in page.text
    assert re.search(r'id="lien-suivi" href="http://intake.test/suivi/[\w-]{32}"', page.text)
    assert counts(client) == (1, 1)


def test_honeypot_filled_is_refused_and_nothing_stored(client):
    before = _rejected("honeypot")
    response = _post(client, site_web="http://promo.example")
    assert response.status_code == 422
    assert "Votre demande n'a pas pu être enregistrée." in html.unescape(response.text)
    assert counts(client) == (0, 0)
    assert _rejected("honeypot") == before + 1


def test_too_fast_submission_is_refused(make_client):
    client = make_client(min_fill_seconds=30)
    response = _post(client)
    assert response.status_code == 422
    assert "envoyée trop vite pour avoir été saisie par une personne" in response.text
    assert 'value="Boulangerie Dupont"' in response.text  # nothing typed is lost
    assert counts(client) == (0, 0)


def test_sub_second_fill_guard_holds_whatever_the_fraction_of_second(make_client):
    # Forms served across a whole second: a whole-second token timestamp let those served in its
    # second half through a 0.5 s guard (and made CI's 1 s guard flaky). A fake clock serves them
    # at fractions .0, .47, .94, .41, .88 and .35 of a second, each posted 0.3 s later.
    clock = FakeClock(1_800_000_000.0)
    client = make_client(min_fill_seconds=0.5, clock=clock)
    statuses = []
    for _ in range(6):
        token = _token(client)
        clock.advance(seconds=0.3)
        statuses.append(_post(client, token).status_code)
        clock.advance(seconds=0.17)
    assert statuses == [422] * 6 and counts(client) == (0, 0)
    token = _token(client)
    clock.advance(seconds=0.6)  # past the guard: a person could have filled it by now
    assert _post(client, token).status_code == 303


def test_forged_or_missing_form_token_is_refused(client):
    response = _post(client, token="forged.token")
    assert response.status_code == 422
    assert "Ce formulaire a expiré : vérifiez votre saisie puis renvoyez-le." in response.text
    assert counts(client) == (0, 0)


def test_expired_form_token_is_refused(make_client):
    clock = FakeClock(1_800_000_000.0)
    client = make_client(max_form_age_s=1, clock=clock)
    token = _token(client)
    clock.advance(seconds=2.1)
    assert "Ce formulaire a expiré" in _post(client, token=token).text
    assert counts(client) == (0, 0)


def test_form_rate_limit_per_ip(make_client):
    client = make_client(rate_limit_ip=2)
    statuses = [_post(client, email=f"c{i}@boulangerie-dupont.fr").status_code for i in range(3)]
    assert statuses == [303, 303, 429]
    refused = _post(client)
    assert "Trop de demandes envoyées depuis votre connexion" in refused.text
    assert refused.headers["Retry-After"] == str(client.app.state.intake.settings.rate_limit_ip_window_s)


def test_form_errors_are_in_french_next_to_each_field(client):
    response = _post(client, besoins=[], lieu="Atlantide", email="jeanne@", consentement="", siret="123")
    assert response.status_code == 422
    text = response.text
    assert 'id="besoins-erreur">Choisissez au moins un élément.' in text
    assert 'id="lieu-erreur">Commune introuvable : indiquez son code postal (ex. 69007) ou choisissez-la dans la liste.' in text
    assert 'id="email-erreur">Le domaine de l&#39;adresse électronique (après le @) n&#39;est pas valide.' in text
    assert 'id="siret-erreur">Le SIRET doit comporter 14 chiffres.' in text
    assert 'id="consentement-erreur">Vous devez accepter la politique de confidentialité' in text
    assert "Votre demande contient 5 erreurs" in text
    assert counts(client) == (0, 0)


def test_unknown_postal_code_gets_a_suggestion_on_the_form(client):
    response = _post(client, lieu="69999")
    assert "Code postal inconnu : 69999. Vouliez-vous dire 69970, 69960, 69930 ?" in response.text


def test_commune_name_with_postal_code_is_resolved(client):
    response = _post(client, lieu="Lyon 7e Arrondissement (69007)")
    assert response.status_code == 303
    status = client.get(response.headers["location"].replace("/demande/merci/", "/api/v1/suivi/")).json()
    assert status["commune"] == "Lyon 7e Arrondissement" and status["postal_code"] == "69007"


def test_prefill_from_a_lycee_profile(client):
    page = client.get("/demande?uai=0690001a&metiers=Boulanger&metiers=P%C3%A2tissier")
    assert 'name="uai" value="0690001A"' in page.text
    assert 'value="Boulanger"' in page.text and 'value="Pâtissier"' in page.text
    response = _post(client, token=_token(client), uai="0690001A", metiers=["Boulanger", "Pâtissier"])
    assert response.status_code == 303


def test_home_redirects_to_the_form_and_pages_exist(client):
    assert client.get("/", follow_redirects=False).headers["location"] == "/demande"
    assert "Données personnelles" in client.get("/confidentialite").text
    assert "1095 jours" in client.get("/confidentialite").text
    assert client.get("/accessibilite").status_code == 200
    assert client.get("/suivi/inconnu").status_code == 404


def test_autocomplete_works_without_the_catalog(client):
    assert client.get("/api/v1/autocomplete/metiers", params={"q": "boul"}).json() == []  # catalog down: free text
    communes = client.get("/api/v1/autocomplete/communes", params={"q": "69007"}).json()
    assert {"label": "Lyon 7e Arrondissement (69007)", "value": "Lyon 7e Arrondissement (69007)",
            "code": "69387"} in communes


def test_metrics_count_received_requests_by_channel(client):
    def received(channel):
        return REGISTRY.get_sample_value("mlp_requests_received_total", {"channel": channel, "pilot": "inside"}) or 0.0

    before = received("form")
    _post(client)
    assert received("form") == before + 1
    assert 'mlp_requests_received_total{channel="form",pilot="inside"}' in client.get("/metrics").text


def test_a_number_typed_with_other_digits_is_refused_in_french_not_a_server_error(client):
    """« ² » and « ٣ » are digits for str.isdigit but not for int(): the form answered 500 (found by the fuzz test)."""
    for places, rayon in (("²", "30"), ("2", "٣0")):
        response = _post(client, places=places, rayon_km=rayon)
        assert response.status_code == 422, (places, rayon)
        assert "Indiquez un nombre entier." in html.unescape(response.text)
    assert counts(client) == (0, 0)
