"""Every kind of bad input on POST /api/v1/requests: exact status, French message, nothing stored."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from services.intake.models import CompanyRequest
from shared.platform.http import INVALID_FIELDS as INVALID
from tests.intake.support import body, counts, engine_of

CASES = [
    ("needs vides", body(needs=[]), "needs", "Choisissez au moins un élément."),
    ("besoin inconnu", body(needs=["pfmp", "cafe"]), "needs.1",
     "Valeur non reconnue. Valeurs possibles : pfmp, apprentissage, recrutement, intervention, visite, "
     "jury, materiel, soutien ou autre."),
    ("besoins absents", body(needs=...), "needs", "Ce champ est obligatoire."),
    ("SIRET clé fausse", body(siret="73282932000075"), "siret",
     "Ce SIRET n'est pas valide (clé de contrôle incorrecte) : vérifiez-le."),
    ("SIRET trop court", body(siret="1234"), "siret", "Le SIRET doit comporter 14 chiffres."),
    ("NAF mal formé", body(naf="10-71"), "naf", "Le code NAF doit avoir la forme 10.71C (4 chiffres et une lettre)."),
    ("email sans @", body(contact__email="jeanne.martin"), "contact.email",
     "L'adresse électronique doit contenir un @ (ex. prenom.nom@entreprise.fr)."),
    ("email domaine réservé", body(contact__email="jeanne@entreprise.test"), "contact.email",
     "Le domaine de l'adresse électronique (après le @) n'est pas valide."),
    ("email domaine sans point", body(contact__email="jeanne@entreprise"), "contact.email",
     "Le domaine de l'adresse électronique (après le @) n'est pas valide."),
    ("email jetable", body(contact__email="jeanne@yopmail.com"), "contact.email",
     "Les adresses électroniques jetables ne sont pas acceptées : le lycée doit pouvoir vous répondre."),
    ("email faute de frappe", body(contact__email="jeanne@gmial.com"), "contact.email",
     "Le domaine « gmial.com » semble mal orthographié : vouliez-vous dire « gmail.com » ?"),
    ("code postal inconnu", body(location={"postal_code": "69999"}), "location.postal_code",
     "Code postal inconnu : 69999. Vouliez-vous dire 69970, 69960, 69930 ?"),
    ("code postal mal formé", body(location={"postal_code": "6900"}), "location.postal_code",
     "Le code postal doit comporter 5 chiffres (ex. 69007)."),
    ("commune inconnue", body(location={"commune_insee": "99999"}), "location.commune_insee",
     "Commune inconnue (code INSEE 99999)."),
    ("lieu absent", body(location={}), "location", "Indiquez un code postal ou une commune."),
    ("téléphone", body(contact__phone="appelez-moi"), "contact.phone",
     "Le numéro de téléphone n'est pas valide (ex. 04 72 00 00 00)."),
    ("rayon trop grand", body(radius_km=5000), "radius_km", "La valeur ne doit pas dépasser 200."),
    ("places non entières", body(places="beaucoup"), "places", "Indiquez un nombre entier."),
    ("nom vide", body(contact__name="   "), "contact.name", "Ce champ est obligatoire."),
    ("entreprise vide", body(company_name=""), "company_name", "Ce champ est obligatoire."),
    ("message trop long", body(message="x" * 5001), "message", "Ce texte ne doit pas dépasser 5000 caractères."),
    ("liens en masse", body(message="Promo http://a.fr http://b.fr www.c.fr https://d.fr"), "message",
     "Le message ne doit pas contenir plus de 3 liens."),
    ("champ inconnu", body(site="http://spam"), "site", "Champ inconnu : retirez-le."),
    # Issue 17: a postal code that contradicts the INSEE code was silently stored as the other commune.
    ("code postal contredit la commune", body(location={"postal_code": "75007", "commune_insee": "69387"}),
     "location.postal_code", "Le code postal 75007 ne correspond pas à la commune Lyon 7e Arrondissement "
     "(code postal 69007)."),
    ("places booléen", body(places=True), "places", "Indiquez un nombre entier."),
    ("rayon booléen", body(radius_km=True), "radius_km", "Indiquez un nombre entier."),
]


@pytest.mark.parametrize(("case", "payload", "field", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_with_a_french_message_and_nothing_stored(client, case, payload, field, message):
    response = client.post("/api/v1/requests", json=payload)
    assert response.status_code == 422, response.text
    data = response.json()
    assert data["detail"] == INVALID
    assert {"field": field, "message": message} in data["errors"]
    assert counts(client) == (0, 0)


def test_all_mistakes_are_reported_together(client):
    payload = body(siret="73282932000075", contact={"name": "", "email": "jeanne@yopmail.com"},
                   location={"postal_code": "69999"})
    errors = {e["field"] for e in client.post("/api/v1/requests", json=payload).json()["errors"]}
    assert errors == {"siret", "contact.name", "contact.email", "location.postal_code"}


def test_invalid_json_is_a_400_with_the_common_error_body(client):
    response = client.post("/api/v1/requests", content=b'{"needs": [', headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json() == {"detail": "Le corps de la requête est illisible : du JSON encodé en UTF-8 est attendu.",
                               "errors": []}
    assert counts(client) == (0, 0)


def test_a_body_that_is_not_an_object_is_refused(client):
    response = client.post("/api/v1/requests", json=[1, 2, 3])
    assert response.status_code == 422
    assert response.json()["errors"][0]["message"] == "Un objet JSON est attendu."


def test_oversized_body_is_refused_before_parsing(client):
    payload = body(message="x" * 70_000)
    response = client.post("/api/v1/requests", json=payload)
    assert response.status_code == 413
    assert response.json() == {"detail": "Le contenu envoyé est trop volumineux (64 Ko au maximum).", "errors": []}
    assert counts(client) == (0, 0)


def test_oversized_chunked_body_without_length_is_refused(client):
    def chunks():
        for _ in range(100):
            yield b"x" * 1024

    response = client.post("/api/v1/requests", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert counts(client) == (0, 0)


def test_per_ip_rate_limit(make_client):
    client = make_client(rate_limit_ip=3)
    statuses = [client.post("/api/v1/requests", json=body(contact__email=f"c{i}@boulangerie-dupont.fr")).status_code
                for i in range(4)]
    assert statuses == [202, 202, 202, 429]
    last = client.post("/api/v1/requests", json=body())
    assert last.status_code == 429
    assert last.json()["detail"] == (
        "Trop de demandes envoyées depuis votre connexion. Patientez quelques minutes avant de réessayer."
    )
    assert last.headers["retry-after"] == "600"
    assert counts(client) == (3, 3)


def test_per_email_rate_limit(make_client):
    client = make_client(rate_limit_email=2)
    statuses = [client.post("/api/v1/requests", json=body()).status_code for _ in range(3)]
    assert statuses == [202, 202, 429]
    refused = client.post("/api/v1/requests", json=body(contact__email="JEANNE.MARTIN@boulangerie-dupont.fr"))
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith("Vous avez déjà envoyé plusieurs demandes avec cette adresse")
    other = client.post("/api/v1/requests", json=body(contact__email="paul@boulangerie-dupont.fr"))
    assert other.status_code == 202
    assert counts(client) == (3, 3)


def test_idempotency_key_reused_with_another_body_is_a_conflict(client):
    first = client.post("/api/v1/requests", json=body(), headers={"Idempotency-Key": "cle-1"})
    assert first.status_code == 202
    other = client.post("/api/v1/requests", json=body(places=5), headers={"Idempotency-Key": "cle-1"})
    assert other.status_code == 409
    assert other.json() == {"detail": "Cette clé d'idempotence a déjà servi pour une demande différente.", "errors": []}
    assert counts(client) == (1, 1)


def test_an_idempotency_key_too_long_is_a_french_422_and_nothing_stored(client):
    """The route reads the header itself (no FastAPI parameter to solve): same refusal as before."""
    response = client.post("/api/v1/requests", json=body(), headers={"Idempotency-Key": "k" * 256})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "idempotency-key", "message": "Ce texte ne doit pas dépasser 255 caractères."}]
    assert client.post("/api/v1/requests", json=body(), headers={"Idempotency-Key": "k" * 255}).status_code == 202
    assert counts(client) == (1, 1)


def test_unknown_status_token_is_a_french_404(client):
    response = client.get("/api/v1/suivi/inconnu")
    assert response.status_code == 404
    assert response.json() == {"detail": "Demande introuvable : vérifiez le lien de suivi.", "errors": []}


def test_unknown_impact_period_is_a_422(client):
    response = client.get("/api/v1/impact", params={"period": "1an"})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "period", "message": "Période inconnue : choisissez 30j, 90j, 12m ou tout."}]


def test_openapi_documents_the_request_endpoint(client):
    spec = client.get("/openapi.json").json()
    post = spec["paths"]["/api/v1/requests"]["post"]
    assert {"202", "409", "413", "422", "429"} <= set(post["responses"])
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/CompanyRequestIn")
    [key] = [p for p in post["parameters"] if p["name"] == "idempotency-key"]
    assert key["in"] == "header" and key["schema"]["anyOf"][0] == {"type": "string", "maxLength": 255}
    assert "/api/v1/suivi/{token}" in spec["paths"] and "/api/v1/impact" in spec["paths"]


def test_control_and_bidi_characters_never_reach_storage(client):
    """NUL, escape sequences and bidi overrides (U+202E) are removed at the edge; line breaks stay in the message."""
    payload = body(company_name="Boulangerie\u202eDupont\x00", contact__name="Jeanne\x1b[31m Martin",
                   message="Bonjour,\n\nDeux élèves\u2066 au printemps.\x07")
    response = client.post("/api/v1/requests", json=payload)
    assert response.status_code == 202, response.text
    with Session(engine_of(client)) as session:
        stored = session.exec(select(CompanyRequest)).one()
    assert stored.company_name == "BoulangerieDupont"
    assert stored.contact_name == "Jeanne[31m Martin"
    assert stored.message == "Bonjour,\n\nDeux élèves au printemps."


# A JSON body that validates goes straight to the endpoint, parsed once by pydantic (api.valid_json_payload);
# any other body takes FastAPI's handler, which gives the errors their shape. Both ends are pinned here.
@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/vnd.partenaire+json"])
def test_a_valid_json_body_is_accepted_whatever_json_media_type_names_it(client, content_type):
    response = client.post("/api/v1/requests", content=json.dumps(body()).encode(), headers={"content-type": content_type})
    assert response.status_code == 202, response.text
    assert counts(client) == (1, 1)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_valid_body_not_sent_as_json_is_refused_and_nothing_stored(client, content_type):
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/api/v1/requests", content=json.dumps(body()).encode(), headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == INVALID
    assert counts(client) == (0, 0)


@pytest.mark.parametrize("postal_code", ["¹²³⁴⁵", "٦٩٠٠٧"])
def test_a_postal_code_of_other_digits_is_refused_in_french(client, postal_code):
    """str.isdigit() accepts « ¹²³⁴⁵ » (which int() refuses: the API answered 500) and other scripts' digits."""
    payload = body()
    payload["location"] = {"postal_code": postal_code}
    response = client.post("/api/v1/requests", json=payload)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "location.postal_code",
                                          "message": "Le code postal doit comporter 5 chiffres (ex. 69007)."}]
    assert counts(client) == (0, 0)
