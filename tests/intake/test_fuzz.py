"""Property-based fuzz of POST /api/v1/requests: whatever the body, never a 5xx, and a refused
request leaves nothing behind."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.intake.support import VALID_BODY, body, counts

json_scalars = st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats() | st.text(max_size=40)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)
tricky_text = st.sampled_from(["", " ", "\x00", "69007", "2A004", "é" * 300, "<script>", "73282932000074",
                               "a@b", "x@yopmail.com", "\ud7ff", "١٢٣٤٥", "10.71C", "pfmp"]) | st.text(max_size=60)
FIELDS = [*VALID_BODY, "contact.name", "contact.email", "contact.phone", "location.postal_code",
          "location.commune_insee", "unknown"]
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _mutate(field: str, value, email: str) -> dict:
    data = body(contact__email=email)
    if "." in field:
        outer, inner = field.split(".")
        data[outer][inner] = value
    else:
        data[field] = value
    return data


@FUZZ
@given(payload=json_values)
def test_arbitrary_json_never_fails_the_server(client, payload):
    before = counts(client)
    response = client.post("/api/v1/requests", content=json.dumps(payload), headers={"content-type": "application/json"})
    assert response.status_code in {413, 422}, response.text
    assert "detail" in response.json()
    assert counts(client) == before


@FUZZ
@given(field=st.sampled_from(FIELDS), value=json_values | tricky_text)
def test_one_bad_field_is_refused_cleanly_or_accepted_fully(client, field, value):
    before = counts(client)
    payload = _mutate(field, value, f"fuzz{before[0]}@boulangerie-dupont.fr")  # one email per accepted request
    response = client.post("/api/v1/requests", content=json.dumps(payload),  # NaN/Infinity literals included
                           headers={"content-type": "application/json"})
    assert response.status_code in {202, 413, 422}, response.text
    after = counts(client)
    if response.status_code == 202:
        assert after == (before[0] + 1, before[1] + 1)  # request and its event together
    else:
        assert after == before
        if response.status_code == 422:
            assert all(e["message"] and e["field"] for e in response.json()["errors"])


@FUZZ
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes_never_fail_the_server(client, raw):
    response = client.post("/api/v1/requests", content=raw, headers={"content-type": "application/json"})
    assert response.status_code in {400, 422}
    assert response.json()["detail"] in {
        "Le corps de la requête est illisible : du JSON encodé en UTF-8 est attendu.",
        "La requête contient des erreurs : corrigez les champs indiqués.",
    }
    assert counts(client) == (0, 0)


FORM_FIELDS = ["besoins", "metiers", "lieu", "commune_insee", "rayon_km", "entreprise", "nom", "email", "telephone",
               "message", "consentement", "places", "periode", "siret", "naf", "uai", "site_web", "autre"]
VALID_FORM = {
    "besoins": "pfmp", "lieu": "69007", "rayon_km": "30", "entreprise": "Boulangerie Dupont", "nom": "Jeanne Martin",
    "email": "jeanne.martin@boulangerie-dupont.fr", "consentement": "oui",
}


@FUZZ
@given(changes=st.dictionaries(st.sampled_from(FORM_FIELDS), st.lists(tricky_text, max_size=3), max_size=6))
def test_the_web_form_never_fails_the_server(client, changes):
    import re

    before = counts(client)
    token = re.search(r'name="form_token" value="([^"]+)"', client.get("/demande").text).group(1)
    data = {**VALID_FORM, "email": f"form{before[0]}@boulangerie-dupont.fr", **changes, "form_token": token}
    response = client.post("/demande", data=data, follow_redirects=False)
    assert response.status_code in {303, 422}, response.text[:500]
    expected = (before[0] + 1, before[1] + 1) if response.status_code == 303 else before
    assert counts(client) == expected


def test_file_parts_and_broken_multipart_are_refused_cleanly(client):
    files = {"lieu": ("lieu.txt", b"69007", "text/plain")}
    response = client.post("/demande", data={"besoins": "pfmp"}, files=files, follow_redirects=False)
    assert response.status_code == 400
    broken = client.post("/demande", content=b"--xx\r\nnot multipart", follow_redirects=False,
                         headers={"content-type": "multipart/form-data; boundary=xx"})
    assert broken.status_code in {400, 422}
    assert counts(client) == (0, 0)
