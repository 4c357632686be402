"""Fixtures of the catalog tests: the real data loaded once per session into a SQLite template,
copied per test that writes; apps built on those copies (no mocks)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from services.catalog.app import create_app
from services.catalog.service.readmodel import load_read_model
from services.catalog.service.search import SearchIndex
from services.catalog.state import CatalogState
from shared.platform.db import make_engine
from tests.catalog.support import catalog_settings
from tests.support.catalog_data import load_real_catalog


@pytest.fixture(scope="session")
def catalog_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("catalog") / "template.db"
    load_real_catalog(f"sqlite:///{path}")
    with sqlite3.connect(path) as conn:  # fold the WAL into the file so a plain copy is complete
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def catalog_url(catalog_template: Path, tmp_path: Path) -> str:
    """A private, writable copy of the loaded catalog."""
    target = tmp_path / "catalog.db"
    shutil.copyfile(catalog_template, target)
    return f"sqlite:///{target}"


@pytest.fixture(scope="session")
def search_index(catalog_template: Path) -> SearchIndex:
    engine = make_engine(f"sqlite:///{catalog_template}")
    with Session(engine) as session:
        model = load_read_model(session, "repli@example.fr")
    engine.dispose()
    return SearchIndex(model)


@pytest.fixture(scope="session")
def readonly_client(catalog_template: Path, tmp_path_factory) -> TestClient:
    """One app over a copy of the catalog, shared by the read-only API tests."""
    target = tmp_path_factory.mktemp("catalog-ro") / "catalog.db"
    shutil.copyfile(catalog_template, target)
    return TestClient(create_app(catalog_settings(f"sqlite:///{target}")))


@pytest.fixture(scope="session")
def template_state(catalog_template: Path) -> CatalogState:
    settings = catalog_settings(f"sqlite:///{catalog_template}")
    state = CatalogState(make_engine(settings.database_url), settings.fallback_email, settings.catalog_public_url)
    state.refresh()
    return state


@pytest.fixture
def client(catalog_url: str, template_state: CatalogState) -> TestClient:
    """An app over a private copy; its index starts from the template's build (same data files), so a
    test pays only for directory refreshes, not for a full index build."""
    app = create_app(catalog_settings(catalog_url))
    app.state.catalog.seed_from(template_state)
    return TestClient(app)
