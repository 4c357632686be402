"""Fixtures of the campaign tests: intake's database at its head, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from services.intake.migrations import SCHEMA
from shared.platform.db import make_engine
from shared.platform.migrations import upgrade


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    upgrade(SCHEMA, engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/intake.db")
    upgrade(SCHEMA, engine)
    yield engine
    engine.dispose()
