"""The direct submission's short path: ``POST /api/v1/requests`` with a valid JSON body, no partner key
and no idempotency key, answered without FastAPI's routing and request machinery.

Why: that request is the service's hot path, and past the work it must do (validate, check the rules,
one shared transaction) most of its CPU went to the framework's layers: route matching over every
route of the service, the exception and exit-stack middlewares, the request-response wrapper, the
guarded route. This ASGI layer sits inside the correlation-and-metrics middleware (so the request keeps
its correlation id, its ``x-request-id``, its metrics and its log line, under the route's own template)
and inside the body-size limit and the partners' CORS layer. It calls the route's own functions
(``guard_submission``, ``create_request``): the answers are the route's answers.

Anything else goes on to FastAPI unchanged, with the body replayed: another path or method, a partner's
key (authentication), an ``Idempotency-Key`` header, a body that is not JSON or that fails validation
(FastAPI's handler then gives the refusal its usual shape and French messages).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import HTTPException, Request
from pydantic import ValidationError

from services.intake import api
from services.intake.middleware import replaying
from shared.contracts.request_schema import CompanyRequestIn
from shared.platform.http import http_error_response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PATH = "/api/v1/requests"
# Headers that call for the full route: a partner's key (x-api-key or a bearer token), a retry's key.
SLOW_HEADERS = frozenset({b"x-api-key", b"authorization", b"idempotency-key"})


class SubmissionLane:
    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app
        # The route FastAPI would have matched: its template labels the metrics and the log line.
        self.route = next(r for r in api.router.routes if getattr(r, "path", None) == PATH
                          and "POST" in getattr(r, "methods", ()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        json_body = False
        for name, value in scope["headers"]:
            if name in SLOW_HEADERS:
                await self.app(scope, receive, send)
                return
            if name == b"content-type":
                json_body = api.is_json_media(value.decode("latin-1"))
        if not json_body:
            await self.app(scope, receive, send)
            return
        body, disconnected = await _read_body(receive)
        if disconnected:
            return
        try:
            payload = CompanyRequestIn.model_validate_json(body) if body else None
        except (ValidationError, ValueError):  # a body that is not UTF-8 raises ValueError
            payload = None
        if payload is None:
            await self.app(scope, replaying(body, receive), send)
            return
        scope["route"] = self.route
        request = Request(scope, replaying(body, receive))
        try:
            await api.guard_submission(request)
        except HTTPException as exc:  # the per-IP limit: the same answer as the route's
            response = http_error_response(exc)
        else:
            response = await api.create_request(payload, request)
        await response(scope, receive, send)


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"", True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False

