"""The direct submission's short path (services/intake/submit_lane.py) answers as FastAPI's route does.

A request with an ``Idempotency-Key`` takes the full route; the same request without one takes the
short path: both answers are compared, and what the edge adds (request id, metrics, CORS) is checked
on the short path's."""

from __future__ import annotations

import httpx

from services.intake.submit_lane import SubmissionLane
from tests.intake.support import body, counts


def _metric(client, name: str, **labels: str) -> float:
    text = client.get("/metrics").text
    wanted = [f'{key}="{value}"' for key, value in labels.items()]
    for line in text.splitlines():
        if line.startswith(name + "{") and all(w in line for w in wanted):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_the_short_path_and_the_route_give_the_same_answer(client):
    assert any(m.cls is SubmissionLane for m in client.app.user_middleware)
    short = client.post("/api/v1/requests", json=body(contact__email="court@boulangerie-dupont.fr"))
    full = client.post("/api/v1/requests", json=body(contact__email="long@boulangerie-dupont.fr"),
                       headers={"Idempotency-Key": "cle-1"})
    assert short.status_code == full.status_code == 202
    a, b = short.json(), full.json()
    assert a.keys() == b.keys()
    for volatile in ("request_id", "status_url", "status_api_url"):
        assert a.pop(volatile) != b.pop(volatile)
    assert a == b
    assert short.headers["content-type"] == full.headers["content-type"] == "application/json"
    assert counts(client) == (2, 2)  # each request with its outbox event


def test_the_short_path_keeps_the_request_id_the_metrics_and_the_route_label(client):
    before = _metric(client, "mlp_http_requests_total", route="/api/v1/requests", method="POST", status="202")
    response = client.post("/api/v1/requests", json=body(), headers={"X-Request-ID": "essai-court-1"})
    assert response.status_code == 202
    assert response.headers["x-request-id"] == "essai-court-1"
    after = _metric(client, "mlp_http_requests_total", route="/api/v1/requests", method="POST", status="202")
    assert after == before + 1


def test_the_short_path_refuses_past_the_ip_limit_as_the_route_does(make_client):
    client = make_client(rate_limit_ip=2)
    statuses = [client.post("/api/v1/requests", json=body(contact__email=f"c{i}@exemple.fr")).status_code
                for i in range(3)]
    assert statuses == [202, 202, 429]
    refused = client.post("/api/v1/requests", json=body(contact__email="c9@exemple.fr"))
    assert refused.status_code == 429
    assert refused.headers["retry-after"]
    assert refused.json()["detail"].startswith("Trop de demandes")
    assert counts(client) == (2, 2)


def test_a_faulty_body_goes_on_to_the_route_and_its_french_refusal(client):
    invalid = client.post("/api/v1/requests", json=body(siret="73282932000075"))
    assert invalid.status_code == 422
    assert any(e["field"] == "siret" for e in invalid.json()["errors"])
    not_json = client.post("/api/v1/requests", content=b"{pas du json", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400
    assert counts(client) == (0, 0)


def test_a_partner_origin_gets_its_cors_headers_on_the_short_path(client):
    # An unknown origin: the CORS layer (outside the short path) still says Vary: Origin, and grants nothing.
    response = client.post("/api/v1/requests", json=body(), headers={"Origin": "https://inconnu.example"})
    assert response.status_code == 202
    assert response.headers["vary"] == "Origin"
    assert "access-control-allow-origin" not in response.headers


def test_a_body_sent_in_several_chunks_is_read_whole(client):
    chunks = [part.encode() for part in httpx.Response(200, json=body()).text.partition('"jobs"')]

    def stream():
        yield from chunks

    response = client.post("/api/v1/requests", content=stream(), headers={"Content-Type": "application/json"})
    assert response.status_code == 202, response.text
    assert counts(client) == (1, 1)
