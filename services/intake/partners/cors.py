"""CORS for the JSON API, for the registered origins of enabled partners only (ASGI middleware).

A browser on a partner's site (an origin it registered) may call ``/api/v1/…``: the preflight is
answered, and the answers carry ``Access-Control-Allow-Origin`` for that origin. Any other origin
gets no such header (the browser keeps the answer from the page) and its preflight a 403.

The origin set is the registry's in-memory copy (registry.py): nothing is read from the database
here. A call without an ``Origin`` header (servers, curl, the site's own pages) costs one scan of
its header list: that is the direct API's hot path.
"""

from __future__ import annotations

import json

from services.intake.partners.registry import PartnerRegistry

ALLOW_METHODS = b"GET, POST"
ALLOW_HEADERS = b"Content-Type, X-API-Key, Authorization, Idempotency-Key, X-Request-ID"
EXPOSE_HEADERS = b"Retry-After, X-Request-ID"
MAX_AGE = b"600"
REFUSED = "Cette origine n'est pas autorisée à appeler l'API de MonLycéePro depuis un navigateur."


class PartnerCors:
    def __init__(self, app, registry: PartnerRegistry, prefix: str = "/api/") -> None:
        self.app = app
        self.registry = registry
        self.prefix = prefix

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        origin = None
        preflight = False
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
            elif name == b"access-control-request-method":
                preflight = True
        if origin is None:
            await self.app(scope, receive, send)
            return
        allowed = self.registry.allows(origin.decode("latin-1"))
        if preflight and scope["method"] == "OPTIONS":
            await self._preflight(send, origin if allowed else None)
            return
        extra = [(b"vary", b"Origin")]
        if allowed:
            extra += [(b"access-control-allow-origin", origin), (b"access-control-expose-headers", EXPOSE_HEADERS)]

        async def send_with_cors(message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_cors)

    @staticmethod
    async def _preflight(send, origin: bytes | None) -> None:
        headers = [(b"vary", b"Origin")]
        if origin is not None:
            status, body = 204, b""
            headers += [(b"access-control-allow-origin", origin), (b"access-control-allow-methods", ALLOW_METHODS),
                        (b"access-control-allow-headers", ALLOW_HEADERS), (b"access-control-max-age", MAX_AGE)]
        else:
            status = 403
            body = json.dumps({"detail": REFUSED, "errors": []}, ensure_ascii=False).encode()
            headers.append((b"content-type", b"application/json"))
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
