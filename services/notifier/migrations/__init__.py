"""The notifier database's migration history (Alembic; see shared/platform/migrations.py)."""

from pathlib import Path

from services.notifier.models import TABLES
from shared.platform.migrations import ServiceSchema

SCHEMA = ServiceSchema("notifier", TABLES, Path(__file__).parent)
