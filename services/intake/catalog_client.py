"""What the catalog's one job resolver understands of the jobs a company typed (« Nous avons compris… »).

Intake never resolves job text itself: it asks the catalog (``GET /api/v1/metiers/comprendre``), caches
the answers, and stops asking for a while when the catalog does not answer, so a catalog outage costs
one timeout, not one per request. Without an answer the request is accepted as typed (never lost): the
matcher resolves it with the same resolver and explains what it understood to the RBEs.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass

import httpx

CACHE_SIZE = 4096
PAUSE_AFTER_FAILURE_S = 30.0


@dataclass(frozen=True, slots=True)
class JobUnderstood:
    text: str
    status: str  # compris, corrige, vague, inconnu
    message: str
    correction: str | None = None

    def as_json(self) -> dict:
        return {"text": self.text, "status": self.status, "message": self.message, "correction": self.correction}


class JobUnderstanding:
    def __init__(self, catalog_url: str, timeout_s: float) -> None:
        self.url = catalog_url.rstrip("/") + "/api/v1/metiers/comprendre"
        self.timeout_s = timeout_s
        self._cache: OrderedDict[tuple[str, str], JobUnderstood] = OrderedDict()
        self._paused_until = 0.0

    def _cached(self, text: str, naf: str | None) -> JobUnderstood | None:
        key = (text.strip().lower(), (naf or "")[:2])
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
        return hit

    async def one(self, http: httpx.AsyncClient, text: str, naf: str | None = None) -> JobUnderstood | None:
        hit = self._cached(text, naf)
        if hit is not None:
            return hit
        key = (text.strip().lower(), (naf or "")[:2])
        if time.monotonic() < self._paused_until:
            return None
        params = {"q": text.strip()[:120]}
        if naf:
            params["naf"] = naf[:10]
        try:
            response = await http.get(self.url, params=params, timeout=self.timeout_s)
            response.raise_for_status()
            data = response.json()
            found = JobUnderstood(str(data["text"]), str(data["status"]), str(data["message"]), data.get("correction"))
        except Exception:
            self._paused_until = time.monotonic() + PAUSE_AFTER_FAILURE_S
            return None
        self._cache[key] = found
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return found

    async def all(self, http: httpx.AsyncClient, jobs: list[str], naf: str | None = None) -> list[JobUnderstood] | None:
        """One answer per typed job, or None when the catalog could not be asked."""
        texts = [j for j in jobs if j and j.strip()]
        if not texts:
            return []
        # Answered from the cache, or the catalog is paused: no task per job (asyncio.gather wraps
        # each coroutine in one), which cost more than the lookups on every accepted request.
        cached = [self._cached(j, naf) for j in texts]
        if all(c is not None for c in cached):
            return cached  # type: ignore[return-value]
        if time.monotonic() < self._paused_until:
            return None
        found = await asyncio.gather(*(self.one(http, j, naf) for j in texts))
        if any(f is None for f in found):
            return None
        return [f for f in found if f is not None]


PFMP_CACHE_S = 300.0


class LyceePfmp:
    """A lycée's PFMP periods per class, read from its public profile (``GET /api/v1/lycees/{uai}``, field
    ``pfmp``), for the form's « vos dates (mars) tombent pendant la PFMP des 1re ». Cached a few minutes;
    None when the catalog does not answer (the form then only says what it understood of the dates)."""

    def __init__(self, catalog_url: str, timeout_s: float) -> None:
        self.url = catalog_url.rstrip("/") + "/api/v1/lycees/"
        self.timeout_s = timeout_s
        self._cache: OrderedDict[str, tuple[float, list[tuple[str, str]]]] = OrderedDict()
        self._paused_until = 0.0

    async def periods(self, http: httpx.AsyncClient, uai: str) -> list[tuple[str, str]] | None:
        """(class code, ranges code) of each declared period."""
        hit = self._cache.get(uai)
        if hit is not None and time.monotonic() - hit[0] < PFMP_CACHE_S:
            return hit[1]
        if time.monotonic() < self._paused_until:
            return None
        try:
            response = await http.get(self.url + uai, timeout=self.timeout_s)
            if response.status_code == 404:
                found: list[tuple[str, str]] = []
            else:
                response.raise_for_status()
                found = [(str(p["classe"]), str(p["ranges"])) for p in response.json().get("pfmp") or []]
        except Exception:
            self._paused_until = time.monotonic() + PAUSE_AFTER_FAILURE_S
            return None
        self._cache[uai] = (time.monotonic(), found)
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return found
