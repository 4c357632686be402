"""The in-memory copy of the enabled partners' origins, read by the CORS middleware on every
cross-origin call: no database query on the request path.

A background task (``refresh_task``) reloads it every ``MLP_PARTNER_REFRESH_S`` seconds (30 by
default), so a partner added, changed or disabled by ``monlyceepro partner …`` (another process)
is seen by every intake instance within that delay. The embedded form and the API keys do not use
this copy: they read the database, so a disabled partner or a revoked key is refused at once.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine
from sqlmodel import Session

from services.intake.partners import repository
from shared.platform.logging import get_logger
from shared.platform.service import BackgroundTask, ServiceRuntime

log = get_logger(__name__)


class PartnerRegistry:
    def __init__(self) -> None:
        self._origins: frozenset[str] = frozenset()
        self.by_partner: dict[str, list[str]] = {}
        self.loaded = False

    def allows(self, origin: str) -> bool:
        """True when an enabled partner registered this origin (exact match, as browsers send it)."""
        return origin in self._origins

    def replace(self, by_partner: dict[str, list[str]]) -> None:
        # One assignment: readers on other threads see the old set or the new one, never half of it.
        self.by_partner = by_partner
        self._origins = frozenset(o for origins in by_partner.values() for o in origins)
        self.loaded = True

    def load(self, engine: Engine) -> None:
        with Session(engine) as session:
            self.replace(repository.enabled_origins(session))


def refresh_task(registry: PartnerRegistry, interval_s: float) -> BackgroundTask:
    async def refresh_partners(runtime: ServiceRuntime) -> None:
        while True:
            try:
                await runtime.run_db(registry.load, runtime.engine)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is down: keep the last copy, try again later
                log.warning("partner_registry_refresh_failed", error=type(exc).__name__)
            await asyncio.sleep(interval_s)

    return refresh_partners
