"""The matcher database's migration history (Alembic; see shared/platform/migrations.py)."""

from pathlib import Path

from services.matcher.models import TABLES
from shared.platform.migrations import ServiceSchema

SCHEMA = ServiceSchema("matcher", TABLES, Path(__file__).parent)
