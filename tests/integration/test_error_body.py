"""One error body on every service (issue 19 « one HTTP edge »): the four real apps, started on SQLite and a
real redis-server, answer unknown routes, wrong methods, unreadable bodies and admin calls alike, in French."""

from __future__ import annotations

import importlib

import pytest
from fastapi.testclient import TestClient

from shared.platform.http import ADMIN_DISABLED, ADMIN_TOKEN_NEEDED, HTTP_MESSAGES, NOT_JSON

SERVICES = ("intake", "catalog", "matcher", "notifier")
ADMIN_ROUTES = {"catalog": ("PUT", "/api/v1/admin/academies/Lyon/repli"), "matcher": ("GET", "/api/v1/review")}
JSON_ROUTES = {"intake": "/api/v1/requests", "matcher": "/api/v1/routing/preview"}


def _client(service: str, tmp_path, redis_url: str, **overrides) -> TestClient:
    app_module = importlib.import_module(f"services.{service}.app")
    config = {"intake": "IntakeSettings", "matcher": "MatcherSettings", "notifier": "NotifierSettings"}
    if service in config:
        settings_cls = getattr(importlib.import_module(f"services.{service}.config"), config[service])
    else:
        from shared.platform.settings import Settings as settings_cls
    settings = settings_cls(env="test", redis_url=redis_url, database_url=f"sqlite:///{tmp_path}/{service}.db",
                            var_dir=tmp_path, catalog_url="http://127.0.0.1:9", inbound_enabled=False, **overrides)
    return TestClient(app_module.create_app(settings))


@pytest.mark.parametrize("service", SERVICES)
def test_unknown_route_and_wrong_method_answer_the_common_french_body(service, tmp_path, redis_url):
    with _client(service, tmp_path, redis_url) as client:
        missing = client.get("/api/v1/nulle-part")
        assert missing.status_code == 404
        assert missing.json() == {"detail": HTTP_MESSAGES[404], "errors": []}
        wrong = client.delete("/healthz")
        assert wrong.status_code == 405
        assert wrong.json() == {"detail": HTTP_MESSAGES[405], "errors": []}


@pytest.mark.parametrize("service", sorted(JSON_ROUTES))
def test_a_body_that_is_not_json_is_a_400(service, tmp_path, redis_url):
    with _client(service, tmp_path, redis_url) as client:
        response = client.post(JSON_ROUTES[service], content=b"pas du json", headers={"content-type": "application/json"})
        assert response.status_code == 400
        assert response.json() == {"detail": NOT_JSON, "errors": []}


@pytest.mark.parametrize("service", sorted(ADMIN_ROUTES))
def test_one_admin_guard(service, tmp_path, redis_url):
    method, path = ADMIN_ROUTES[service]
    with _client(service, tmp_path, redis_url) as client:
        disabled = client.request(method, path, json={"email": "x@ac-lyon.fr"}, headers={"Authorization": "Bearer x"})
        assert disabled.status_code == 403 and disabled.json() == {"detail": ADMIN_DISABLED, "errors": []}
    with _client(service, tmp_path, redis_url, admin_token="le-bon-jeton") as client:
        for headers in ({}, {"Authorization": "Bearer faux"}, {"Authorization": "Basic le-bon-jeton"}):
            denied = client.request(method, path, json={"email": "x@ac-lyon.fr"}, headers=headers)
            assert denied.status_code == 401, headers
            assert denied.headers["WWW-Authenticate"] == "Bearer"
            assert denied.json() == {"detail": ADMIN_TOKEN_NEEDED, "errors": []}
        allowed = client.request(method, path, json={"email": "x@ac-lyon.fr"},
                                 headers={"Authorization": "Bearer le-bon-jeton"})
        assert allowed.status_code not in {401, 403}
