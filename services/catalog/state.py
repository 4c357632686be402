"""In-memory state of a running catalog: the read model, the search index and the serialized
snapshot, rebuilt whenever the catalog version changes (edit, import, reload)."""

from __future__ import annotations

import asyncio
import gzip
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine
from sqlmodel import Session

from services.catalog import repository as repo
from services.catalog.metrics import INDEX_BUILD_SECONDS, publish_coverage
from services.catalog.service.network_coverage import network_coverage
from services.catalog.service.readmodel import ReadModel, load_read_model, with_directory
from services.catalog.service.search import SearchIndex
from services.catalog.service.snapshot import snapshot_from_read_model
from shared.contracts.catalog_snapshot import etag_of
from shared.platform.logging import get_logger
from shared.platform.memory import release_free_memory

log = get_logger(__name__)


@dataclass
class _Built:
    version: str
    fingerprint: str | None
    model: ReadModel
    index: SearchIndex
    snapshot_gzip: bytes | None = None  # the serialized snapshot, gzip-compressed (12 MB of JSON -> ~1.5 MB)
    snapshot_etag: str | None = None


class CatalogState:
    def __init__(self, engine: Engine, fallback_email: str, public_url: str = "") -> None:
        self.engine = engine
        self.fallback_email = fallback_email
        self.public_url = public_url.rstrip("/")
        self._built: _Built | None = None
        self._lock = threading.Lock()

    def current_version(self) -> tuple[str, str | None]:
        with Session(self.engine) as session:
            return repo.get_meta(session, "version") or "vide", repo.get_meta(session, "data_fingerprint")

    def refresh(self, force: bool = False) -> bool:
        """Rebuild when the stored version differs from the one in memory. Returns True if rebuilt."""
        with self._lock:
            version, fingerprint = self.current_version()
            built = self._built
            if not force and built is not None and built.version == version:
                return False
            started = time.perf_counter()
            with Session(self.engine) as session:
                if not force and built is not None and built.fingerprint == fingerprint:
                    # Only the directory changed (RBE edit or import): keep the reference data and text indexes.
                    model = with_directory(built.model, session, self.fallback_email)
                    index = built.index.with_model(model)
                else:
                    model = load_read_model(session, self.fallback_email)
                    index = SearchIndex(model)
            self._built = _Built(version=model.version, fingerprint=fingerprint, model=model, index=index)
            del built  # the previous build, if any, goes now
            release_free_memory()  # the rows read to build it are garbage: give their pages back
            INDEX_BUILD_SECONDS.observe(time.perf_counter() - started)
            publish_coverage(network_coverage(model, date.today()).departements)
            log.info("catalog_index_built", version=model.version, lycees=len(model.lycees))
            return True

    def seed_from(self, other: CatalogState) -> None:
        """Start from another state's build (same data files): only the directory is reloaded on refresh."""
        self._built = other.built

    def is_built(self) -> bool:
        return self._built is not None

    @property
    def built(self) -> _Built:
        if self._built is None:
            self.refresh()
        assert self._built is not None
        return self._built

    @property
    def index(self) -> SearchIndex:
        return self.built.index

    @property
    def model(self) -> ReadModel:
        return self.built.model

    def snapshot_json(self) -> bytes:
        return gzip.decompress(self.snapshot_gzip_payload()[0])

    def snapshot_payload(self) -> tuple[bytes, str]:
        """The serialized snapshot and its strong ETag (a hash of these exact bytes, so a matcher
        holding the same snapshot is answered 304 whatever bumped the version), from one build."""
        body, etag = self.snapshot_gzip_payload()
        return gzip.decompress(body), etag

    def snapshot_gzip_payload(self) -> tuple[bytes, str]:
        """The serialized snapshot gzip-compressed, and the ETag of its uncompressed bytes. Kept compressed
        between requests (issue 18: memory at rest), sent as is to clients that accept gzip (httpx does)."""
        built = self.built
        if built.snapshot_gzip is None or built.snapshot_etag is None:
            body = snapshot_from_read_model(built.model).model_dump_json().encode()
            built.snapshot_etag = etag_of(body)
            built.snapshot_gzip = gzip.compress(body, compresslevel=6, mtime=0)
            del body
            release_free_memory()  # the snapshot's pydantic objects (~85 MiB) are garbage now
        return built.snapshot_gzip, built.snapshot_etag


async def watch_version(state: CatalogState, run_db: Callable[..., Awaitable], interval_s: float = 5.0) -> None:
    """Pick up changes written by another process (CLI import, reload)."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await run_db(state.refresh)
        except Exception as exc:  # keep serving the previous index
            log.warning("catalog_refresh_failed", error=type(exc).__name__)
