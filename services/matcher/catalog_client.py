"""The catalog read model's lifecycle: fetch the snapshot API (retry with backoff), cache the last
good snapshot on disk (restart while the catalog is down), refresh on CatalogChanged (debounced)."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from pathlib import Path

import httpx

from services.matcher.metrics import CATALOG_REFRESHES, CATALOG_SNAPSHOT_AGE, CATALOG_SNAPSHOT_LYCEES
from services.matcher.service.readmodel import CatalogReadModel
from shared.contracts.catalog_snapshot import CatalogSnapshot, etag_of
from shared.platform.logging import get_logger
from shared.platform.memory import rebuilt_compact, release_free_memory
from shared.reference.jobs.text import clear_word_caches

log = get_logger(__name__)


class ReadModelUnavailable(RuntimeError):
    """No snapshot loaded yet (catalog unreachable and no cache)."""


class ReadModelHolder:
    """Holds the current read model; swapped atomically, readable from handler threads."""

    def __init__(self) -> None:
        self.model: CatalogReadModel | None = None
        self.etag: str | None = None  # of the serialized snapshot the model was built from
        self._ready = threading.Event()
        self.refresh_requested: asyncio.Event | None = None

    def install(self, snapshot: CatalogSnapshot, source: str, etag: str | None = None) -> CatalogReadModel:
        return self._install(CatalogReadModel(snapshot), source, etag)

    def _install(self, model: CatalogReadModel, source: str, etag: str | None) -> CatalogReadModel:
        gc.unfreeze()  # the previous model was frozen: let the collector see it go
        self.model, self.etag = model, etag
        gc.collect()
        # The read model is long-lived: move it out of the collector's generations so full collections
        # do not walk its objects on every routing decision (it holds no reference cycles).
        gc.freeze()
        self._ready.set()
        CATALOG_SNAPSHOT_LYCEES.set(len(model.lycees))
        CATALOG_SNAPSHOT_AGE.set(time.time())
        CATALOG_REFRESHES.labels(source, "ok").inc()
        log.info("catalog_snapshot_loaded", source=source, version=model.version, lycees=len(model.lycees))
        return model

    def install_raw(self, raw: bytes, source: str) -> CatalogReadModel:
        """Parse and install a serialized snapshot. The parsed objects are ~4x the model they build and
        are garbage once it is built: the model is re-made in fresh memory once they are freed
        (shared.platform.memory.rebuilt_compact), so their pages go back to the system: 83 -> 50 MiB
        resident for the real catalog, and a refresh no longer adds ~28 MiB."""
        model = self._install(rebuilt_compact(lambda: _model_of(raw)), source, etag_of(raw))
        release_free_memory()  # the previous model's pages
        return model

    def wait(self, timeout: float) -> CatalogReadModel:
        if not self._ready.wait(timeout) or self.model is None:
            raise ReadModelUnavailable("catalogue indisponible : aucun instantané chargé")
        return self.model

    def request_refresh(self) -> None:
        if self.refresh_requested is not None:
            self.refresh_requested.set()


def _model_of(raw: bytes) -> CatalogReadModel:
    model = CatalogReadModel(CatalogSnapshot.model_validate_json(raw))
    clear_word_caches()  # the vocabulary's words, cached while indexing it
    return model


def load_cached(path: Path) -> CatalogSnapshot | None:
    try:
        return CatalogSnapshot.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        return None
    except Exception as exc:  # a torn or outdated cache is ignored, never fatal
        log.warning("catalog_cache_unreadable", error=type(exc).__name__)
        return None


def _install_cached(holder: ReadModelHolder, path: Path) -> None:
    """The snapshot cached by the last run, if readable: the matcher routes while the catalog is down."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return
    try:
        holder.install_raw(raw, "cache")
    except Exception as exc:  # a torn or outdated cache is ignored, never fatal
        log.warning("catalog_cache_unreadable", error=type(exc).__name__)


def save_cache(path: Path, raw: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(raw)
    tmp.replace(path)


async def fetch_snapshot(catalog_url: str, http_timeout_s: float = 30.0) -> tuple[CatalogSnapshot, bytes]:
    raw = await fetch_snapshot_bytes(catalog_url, http_timeout_s)
    assert raw is not None  # no ETag sent: never 304
    return CatalogSnapshot.model_validate_json(raw), raw


async def fetch_snapshot_bytes(catalog_url: str, http_timeout_s: float = 30.0, etag: str | None = None) -> bytes | None:
    """The live snapshot's bytes; None when the catalog answers 304 to ``etag`` (unchanged)."""
    headers = {"If-None-Match": etag} if etag else {}
    async with httpx.AsyncClient(timeout=http_timeout_s) as client:
        response = await client.get(catalog_url.rstrip("/") + "/api/v1/snapshot", headers=headers)
        if response.status_code == 304:
            return None
        response.raise_for_status()
        return response.content


async def _fetch_until_ok(holder: ReadModelHolder, catalog_url: str, cache: Path) -> None:
    delay = 0.2
    while True:
        try:
            raw = await fetch_snapshot_bytes(catalog_url, etag=holder.etag if holder.model else None)
            if raw is None:  # the model in hand is built from the catalog's current snapshot
                CATALOG_REFRESHES.labels("catalog", "unchanged").inc()
                CATALOG_SNAPSHOT_AGE.set(time.time())
                log.info("catalog_snapshot_unchanged")
                return
            await asyncio.to_thread(holder.install_raw, raw, "catalog")
            await asyncio.to_thread(save_cache, cache, raw)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            CATALOG_REFRESHES.labels("catalog", "failed").inc()
            log.warning("catalog_snapshot_fetch_failed", error=type(exc).__name__, retry_in_s=round(delay, 1))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


async def keep_fresh(holder: ReadModelHolder, catalog_url: str, cache: Path, debounce_s: float) -> None:
    """Background task: cached snapshot first, then the live one, then one refresh per burst of changes."""
    holder.refresh_requested = asyncio.Event()
    await asyncio.to_thread(_install_cached, holder, cache)
    await _fetch_until_ok(holder, catalog_url, cache)
    while True:
        await holder.refresh_requested.wait()
        await asyncio.sleep(debounce_s)  # coalesce a burst of CatalogChanged events
        holder.refresh_requested.clear()
        await _fetch_until_ok(holder, catalog_url, cache)


async def fetch_network_coverage(catalog_url: str, http_timeout_s: float = 30.0) -> dict:
    """The catalog's coverage of the network (``GET /api/v1/couverture``): lycées with a confirmed RBE and
    with a completed profile, by académie and département (issue 22)."""
    async with httpx.AsyncClient(timeout=http_timeout_s) as client:
        response = await client.get(catalog_url.rstrip("/") + "/api/v1/couverture")
        response.raise_for_status()
        return response.json()
