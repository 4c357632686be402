"""Alembic's entry point for the matcher database: everything is in shared/platform/migrations.py."""

from services.matcher.migrations import SCHEMA
from shared.platform.migrations import run_env

run_env(SCHEMA)
