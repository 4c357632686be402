"""Helpers for tests of other services (the matcher): a catalog database with the real data."""

from __future__ import annotations

from services.catalog.models import ALL_TABLES
from services.catalog.tasks import load_catalog_into
from shared.platform.db import create_tables, make_engine
from shared.platform.outbox import BACKBONE_TABLES
from shared.platform.settings import get_settings


def load_real_catalog(database_url: str) -> None:
    """Create the catalog tables in ``database_url`` and load data/ into them (idempotent)."""
    engine = make_engine(database_url)
    try:
        create_tables(engine, [*BACKBONE_TABLES, *ALL_TABLES])
        load_catalog_into(engine, get_settings().data_dir)
    finally:
        engine.dispose()
