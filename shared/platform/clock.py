"""The one clock of the platform: timezone-aware UTC, stored as such in every table."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
