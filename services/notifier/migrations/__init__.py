"""The notifier database's migration history (Alembic; see shared/platform/migrations.py)."""

from pathlib import Path

from services.notifier.models import TABLES
from services.notifier.outcomes.models import OUTCOME_TABLES
from shared.platform.migrations import ServiceSchema

SCHEMA = ServiceSchema("notifier", (*TABLES, *OUTCOME_TABLES), Path(__file__).parent)
