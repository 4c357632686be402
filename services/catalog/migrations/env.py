"""Alembic's entry point for the catalog database: everything is in shared/platform/migrations.py."""

from services.catalog.migrations import SCHEMA
from shared.platform.migrations import run_env

run_env(SCHEMA)
