from __future__ import annotations

import pytest

from services.matcher.config import MatcherSettings
from services.matcher.migrations import SCHEMA as MATCHER_SCHEMA
from services.matcher.service import CatalogReadModel
from shared.contracts.catalog_snapshot import CatalogSnapshot
from shared.platform.db import make_engine
from shared.platform.migrations import upgrade
from tests.matcher.fakes import make_snapshot
from tests.matcher.real_snapshot import build_real_catalog_snapshot


@pytest.fixture(scope="session")
def real_snapshot_json(tmp_path_factory) -> str:
    tmp = tmp_path_factory.mktemp("real-catalog")
    return build_real_catalog_snapshot(tmp).model_dump_json()


@pytest.fixture
def real_snapshot(real_snapshot_json) -> CatalogSnapshot:
    """A fresh copy per test: tests may edit it (e.g. give two lycées the same RBE)."""
    return CatalogSnapshot.model_validate_json(real_snapshot_json)


@pytest.fixture(scope="session")
def real_model(real_snapshot_json) -> CatalogReadModel:
    return CatalogReadModel(CatalogSnapshot.model_validate_json(real_snapshot_json))


@pytest.fixture
def fake_model() -> CatalogReadModel:
    return CatalogReadModel(make_snapshot())


@pytest.fixture
def matcher_settings(tmp_path) -> MatcherSettings:
    return MatcherSettings(var_dir=tmp_path / "var", fallback_email="national@monlyceepro.test")


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    upgrade(MATCHER_SCHEMA, engine)
    yield engine
    engine.dispose()
