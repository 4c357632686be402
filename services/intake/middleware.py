"""Refuse oversized bodies before anything parses them (ASGI middleware)."""

from __future__ import annotations

import json

from services.intake import metrics

SUBMISSION_PATHS = {"/api/v1/requests": "api", "/demande": "form"}


class BodySizeLimit:
    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] not in {"POST", "PUT", "PATCH", "DELETE"}:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not (length.isascii() and length.isdigit()) or int(length) > self.max_bytes):
            await self._refuse(scope, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        await self.app(scope, replaying(b"".join(chunks), receive), send)

    async def _refuse(self, scope, send) -> None:
        channel = SUBMISSION_PATHS.get(scope.get("path", ""))
        if channel:
            metrics.rejected(channel, "too_large")
        message = f"Le contenu envoyé est trop volumineux ({self.max_bytes // 1024} Ko au maximum)."
        if scope.get("path", "").startswith("/api/"):
            body = json.dumps({"detail": message, "errors": []}, ensure_ascii=False).encode()  # the common error body
            content_type = b"application/json"
        else:
            body = f"<!doctype html><html lang=\"fr\"><title>Trop volumineux</title><p>{message}</p></html>".encode()
            content_type = b"text/html; charset=utf-8"
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def replaying(body: bytes, receive):
    """An ASGI ``receive`` that gives the body already read, whole, then the rest of the connection's messages."""
    delivered = False

    async def replay():
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
