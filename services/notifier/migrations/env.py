"""Alembic's entry point for the notifier database: everything is in shared/platform/migrations.py."""

from services.notifier.migrations import SCHEMA
from shared.platform.migrations import run_env

run_env(SCHEMA)
