"""The live pilot list: ``MLP_PILOT_ACADEMIES``, overridden without restart by ``monlyceepro pilot``.

The override is one Redis string (``mlp:pilot:academies``: comma-separated académie names; the empty
string means everywhere). Without the key, the setting applies. Each service instance polls the key
every ``MLP_PILOT_REFRESH_S`` (one GET), so all instances converge within that delay; while Redis is
unreachable an instance keeps the last value it read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import redis
from redis.asyncio import Redis

from shared.platform.logging import get_logger
from shared.reference.pilot import Pilot, UnknownAcademie, parse_pilot_from_data

if TYPE_CHECKING:
    from shared.platform.service import ServiceRuntime

PILOT_KEY = "mlp:pilot:academies"
log = get_logger(__name__)


class LivePilot:
    """The pilot a service applies now: the setting's, or the operators' override read from Redis."""

    def __init__(self, configured: Pilot, data_dir: Any = None) -> None:
        self.configured = configured
        self.current = configured
        self.data_dir = data_dir
        self.overridden = False

    def apply(self, stored: str | bytes | None) -> Pilot:
        """Take the value read from Redis (None: no override). A value that no longer parses (edited by
        hand) is ignored with a warning: the last good one stays."""
        if stored is None:
            self.current, self.overridden = self.configured, False
            return self.current
        text = stored.decode() if isinstance(stored, bytes) else stored
        try:
            self.current = parse_pilot_from_data(text, self.data_dir)
            self.overridden = True
        except UnknownAcademie:
            log.warning("pilot_override_invalid", key=PILOT_KEY)
        return self.current

    async def refresh(self, client: Redis) -> Pilot:
        return self.apply(await client.get(PILOT_KEY))

    def task(self, interval_s: float) -> Callable[[ServiceRuntime], Coroutine[Any, Any, None]]:
        """A background loop for ``create_service_app(background=…)``, on the runtime's Redis client."""

        async def pilot_loop(runtime: ServiceRuntime) -> None:
            while True:
                before = self.current
                try:
                    await self.refresh(runtime.redis)
                except (redis.RedisError, OSError):
                    pass  # keep the last value; /readyz already says Redis is down
                if self.current != before:
                    log.info(
                        "pilot_changed", academies=list(self.current.academies), overridden=self.overridden
                    )
                await asyncio.sleep(interval_s)

        return pilot_loop


def read_override(client: redis.Redis) -> str | None:
    value = client.get(PILOT_KEY)
    return value.decode() if isinstance(value, bytes) else value


def write_override(client: redis.Redis, pilot: Pilot | None) -> None:
    """Store the operators' pilot (None: delete the override, back to the setting)."""
    if pilot is None:
        client.delete(PILOT_KEY)
    else:
        client.set(PILOT_KEY, pilot.as_text())
