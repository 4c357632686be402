"""Schemathesis against the published OpenAPI of intake, catalog and matcher, running as real
processes: whatever the generated input, no 5xx, and every response matches the documented
status codes, content types and schemas."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fuzz.support import ADMIN_TOKEN, count

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZ = settings(max_examples=15, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck), database=None)
# The matcher's admin routes are fuzzed with and without the token; the catalog's full snapshot
# (large, no input) and its CSV upload are left to the catalog's own tests.
EXCLUDED = {"catalog": "^/api/v1/(snapshot|admin/)"}


# Checks left out for one operation while a service bug was open: (operation label, check).
# Both matcher bugs found by this suite (422 body vs its schema, undocumented 401) are fixed in 49802d6.
KNOWN_BUGS: set[tuple[str, object]] = set()


def _fuzz_one(operation, service: str, mode: GenerationMode, checks, headers: dict | None) -> None:
    @FUZZ
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case) -> None:
        count(f"openapi-{service}-{mode.value}")
        response = case.call(headers=headers, timeout=20)
        case.validate_response(response, checks=checks)

    run()


def fuzz_operations(schema, service: str, mode: GenerationMode, checks, headers: dict | None = None) -> list[str]:
    """Runs every operation of the schema; returns the failures (operation: error), not just the first."""
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        kept = [c for c in checks if (operation.label, c) not in KNOWN_BUGS]
        try:
            _fuzz_one(operation, service, mode, kept, headers)
        except Unsatisfiable:
            pass  # invalid mode: an operation without any input has nothing to make invalid
        except Exception as exc:  # noqa: BLE001 - collected and reported below
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    return failures


@pytest.mark.parametrize("service", ["intake", "catalog", "matcher"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_no_5xx_and_responses_match_the_schema(fuzz_system, service, mode):
    schema = schemathesis.openapi.from_url(fuzz_system.url(service) + "/openapi.json")
    if service in EXCLUDED:
        schema = schema.exclude(path_regex=EXCLUDED[service])
    # Invalid input: the documented 4xx, never a 5xx (its body may not follow a success schema).
    checks = CHECKS if mode == GenerationMode.POSITIVE else [not_a_server_error, content_type_conformance]
    failures = fuzz_operations(schema, service, mode, checks)
    if service == "matcher":
        failures += fuzz_operations(schema, service, mode, checks, {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert failures == [], "\n\n".join(failures)


# Regression tests (open bugs when written, fixed in 49802d6).
def test_matcher_422_body_matches_its_documented_schema(fuzz_system):
    schema = schemathesis.openapi.from_url(fuzz_system.url("matcher") + "/openapi.json")
    case = schema["/api/v1/routing/preview"]["POST"].Case(
        body={"company_name": "0", "contact": {"email": "000", "name": "0"}, "location": {}, "needs": ["jury"]},
        media_type="application/json")
    response = case.call(timeout=20)
    assert response.status_code == 422
    case.validate_response(response, checks=[status_code_conformance, response_schema_conformance])


def test_matcher_admin_401_is_documented(fuzz_system):
    url = fuzz_system.url("matcher")
    spec = httpx.get(url + "/openapi.json", timeout=10).json()
    assert httpx.get(url + "/api/v1/review", timeout=10).status_code == 401
    assert "401" in spec["paths"]["/api/v1/review"]["get"]["responses"]
