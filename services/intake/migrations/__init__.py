"""The intake database's migration history (Alembic; see shared/platform/migrations.py)."""

from pathlib import Path

from services.intake.campaigns.models import CAMPAIGN_TABLES
from services.intake.models import INTAKE_TABLES
from services.intake.outcomes.models import OUTCOME_TABLES
from services.intake.partners.models import PARTNER_TABLES
from shared.platform.migrations import ServiceSchema

SCHEMA = ServiceSchema("intake", (*INTAKE_TABLES, *CAMPAIGN_TABLES, *PARTNER_TABLES, *OUTCOME_TABLES), Path(__file__).parent)
