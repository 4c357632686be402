"""The correlation middleware: X-Request-ID echoed (or minted), untrusted values replaced,
the id visible to the endpoint, status counted even when the endpoint raises."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, Request

from shared.platform.metrics import HTTP_REQUESTS
from shared.platform.service import _CorrelationAndMetricsMiddleware


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/echo")
    async def echo(request: Request) -> dict:
        return {"cid": request.state.correlation_id}

    @app.get("/boom")
    async def boom() -> dict:
        raise RuntimeError("boom")

    app.add_middleware(_CorrelationAndMetricsMiddleware, service="unit")
    return app


async def _get(path: str, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get(path, headers=headers)


async def test_a_clean_request_id_is_kept_and_echoed():
    response = await _get("/echo", **{"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
    assert response.json() == {"cid": "abc-123"}


@pytest.mark.parametrize("value", ["a b", "x" * 65, "a/../b", "a;rm"])
async def test_an_untrusted_request_id_is_replaced(value):
    response = await _get("/echo", **{"X-Request-ID": value})
    cid = response.headers["X-Request-ID"]
    assert cid != value and cid.replace("-", "").isalnum()
    assert response.json() == {"cid": cid}


async def test_a_failing_endpoint_is_counted_as_a_500():
    before = HTTP_REQUESTS.labels("unit", "/boom", "GET", "500")._value.get()
    response = await _get("/boom")
    assert response.status_code == 500
    assert HTTP_REQUESTS.labels("unit", "/boom", "GET", "500")._value.get() == before + 1
