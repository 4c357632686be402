"""Which académies get invitations: the pilot's (issue 20, item 1), unless ``--all-academies``.

The pilot list is ``MLP_PILOT_ACADEMIES`` (académie names, comma-separated; empty: everywhere). This
is the one place campaigns read it: the settings' ``pilot_academies`` when intake's settings have
that field, else the environment variable as it is. ``live_override`` reads the list an operator set
with ``monlyceepro pilot`` (Redis), which wins over the setting, as it does for the form.
"""

from __future__ import annotations

import os

import redis

from shared.platform.pilot_live import read_override
from shared.platform.redis_conn import redis_client_sync
from shared.reference.pilot import academie_key as _key


def live_override(redis_url: str) -> str | None:
    """The operators' pilot list (``monlyceepro pilot``), or None: none set, or Redis unreachable."""
    client = redis_client_sync(redis_url, connect_timeout_s=1, timeout_s=2)
    try:
        return read_override(client)
    except (redis.RedisError, OSError):
        return None
    finally:
        client.close()


def pilot_academies(settings: object, override: str | None = None) -> frozenset[str]:
    """The pilot académies (folded names); empty means everywhere. ``override``: the live list, if any."""
    configured = override if override is not None else getattr(settings, "pilot_academies", None)
    if configured is None:
        configured = os.environ.get("MLP_PILOT_ACADEMIES", "")
    names = configured.split(",") if isinstance(configured, str) else list(configured)
    return frozenset(_key(n) for n in names if isinstance(n, str) and n.strip())


def in_pilot(academie: str | None, pilot: frozenset[str]) -> bool:
    return not pilot or (academie is not None and _key(academie) in pilot)
