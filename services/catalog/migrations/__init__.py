"""The catalog database's migration history (Alembic; see shared/platform/migrations.py)."""

from pathlib import Path

from services.catalog.models import ALL_TABLES
from shared.platform.migrations import ServiceSchema

SCHEMA = ServiceSchema("catalog", ALL_TABLES, Path(__file__).parent)
