"""Alembic's entry point for the intake database: everything is in shared/platform/migrations.py."""

from services.intake.migrations import SCHEMA
from shared.platform.migrations import run_env

run_env(SCHEMA)
