"""Helpers for tests of other services (the matcher): a catalog database with the real data."""

from __future__ import annotations

from services.catalog.migrations import SCHEMA as CATALOG_SCHEMA
from services.catalog.tasks import load_catalog_into
from shared.platform.db import make_engine
from shared.platform.migrations import upgrade
from shared.platform.settings import get_settings


def load_real_catalog(database_url: str) -> None:
    """Create the catalog tables in ``database_url`` and load data/ into them (idempotent)."""
    engine = make_engine(database_url)
    try:
        upgrade(CATALOG_SCHEMA, engine)
        load_catalog_into(engine, get_settings().data_dir)
    finally:
        engine.dispose()
