"""Matcher settings: the shared ``Settings`` plus routing knobs (same ``MLP_`` prefix)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from shared.platform.settings import Settings


class MatcherSettings(Settings):
    # At most this many lycées receive one request (grouped by RBE into assignments).
    max_lycees: int = 3
    # Search radii (km), widened in this order while nothing relevant is found.
    radius_steps_km: list[int] = [30, 60, 100, 150]
    # The same company with the same need within this window is attached, not routed again.
    repeat_window_days: int = 21
    # Candidates kept in a stored decision (chosen + best rejected), for escalation and audit.
    kept_candidates: int = 20
    # CatalogChanged events within this delay trigger one snapshot refresh.
    catalog_refresh_debounce_s: float = 2.0
    # How long a stream handler waits for the first snapshot before failing (then retried).
    snapshot_wait_s: float = 20.0

    @property
    def snapshot_cache_path(self) -> Path:
        return self.var_dir / "matcher" / "catalog_snapshot.json"


@lru_cache
def get_matcher_settings() -> MatcherSettings:
    return MatcherSettings()
