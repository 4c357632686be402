"""HTTP calls of the referents' back-office to the services that own its data: the matcher (review queue,
actions on a request) and the notifier (held replies, unanswered requests, messages in a thread). Every
call carries the admin token and the referent's académie; the callee filters and checks it too."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from shared.platform.settings import Settings

TIMEOUT_S = 10.0


class Unavailable(Exception):
    """The service did not answer: the page says so for that list, the others are still shown."""


@dataclass
class Refused(Exception):  # noqa: N818 - what the referent sees: the action was refused
    status: int
    message: str


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return "Erreur du service."
    errors = body.get("errors") or []
    return "; ".join(e.get("message", "") for e in errors) or str(body.get("detail") or "Erreur du service.")


class BackofficeClient:
    def __init__(self, settings: Settings) -> None:
        self.matcher = settings.matcher_url.rstrip("/")
        self.notifier = settings.notifier_api_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {settings.admin_token or ''}"}

    async def _call(self, method: str, url: str, *, key: str | None = None, **kwargs: Any) -> Any:
        headers = dict(self.headers)
        if key:
            headers["Idempotency-Key"] = key
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
                response = await client.request(method, url, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise Unavailable(type(exc).__name__) from exc
        if response.status_code >= 500 or response.status_code in (401, 403):
            raise Unavailable(str(response.status_code))
        if response.status_code >= 400:
            raise Refused(response.status_code, _detail(response))
        return response.json()

    async def review(self, academie: str, include_handled: bool = False) -> list[dict]:
        return await self._call("GET", f"{self.matcher}/api/v1/review",
                                params={"academie": academie, "traitees": str(include_handled).lower()})

    async def held(self, academie: str) -> list[dict]:
        return await self._call("GET", f"{self.notifier}/api/v1/review/inbound", params={"academie": academie})

    async def unanswered(self, academie: str) -> list[dict]:
        return await self._call("GET", f"{self.notifier}/api/v1/review/unanswered", params={"academie": academie})

    async def act(self, request_id: str, key: str, body: dict) -> dict:
        return await self._call("POST", f"{self.matcher}/api/v1/review/{request_id}/actions", key=key, json=body)

    async def write(self, request_id: str, key: str, body: dict) -> dict:
        return await self._call("POST", f"{self.notifier}/api/v1/review/requests/{request_id}/message", key=key,
                                json=body)

    async def settle(self, inbound_id: str, key: str, body: dict) -> dict:
        return await self._call("POST", f"{self.notifier}/api/v1/review/inbound/{inbound_id}", key=key, json=body)
