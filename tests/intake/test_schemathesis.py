"""Schema-driven fuzz (schemathesis strategies from the app's own OpenAPI): no 5xx on any operation
of the JSON API, with bodies built from the documented schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.intake.app import create_app
from tests.intake.support import make_settings

OPERATIONS = [
    ("/api/v1/requests", "POST"), ("/api/v1/suivi/{token}", "GET"), ("/api/v1/suivi/{token}", "DELETE"),
    ("/api/v1/requests/{request_id}", "GET"), ("/api/v1/impact", "GET"), ("/api/v2/impact", "GET"),
    ("/api/v1/autocomplete/communes", "GET"),
]


@pytest.fixture(scope="module")
def intake_schema(tmp_path_factory, redis_server):
    tmp = tmp_path_factory.mktemp("schemathesis")
    app = create_app(make_settings(tmp, redis_server.url, rate_limit_email=1_000_000, rate_limit_ip=1_000_000))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_documented_api_never_answers_5xx(intake_schema, path, method):
    operation = intake_schema[path][method]
    statuses: set[int] = set()

    @settings(max_examples=80 if method == "POST" else 25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data):
        case = data.draw(operation.as_strategy())
        response = case.call()
        assert response.status_code < 500, (case.body, response.text)
        statuses.add(response.status_code)

    run()
    assert statuses  # requests really went through
