"""The real catalog, loaded once for the quality tests: the catalog's search index and the matcher's
read model, both built from the same load of data/ (as in production, through the snapshot)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlmodel import Session

from services.catalog.service.readmodel import load_read_model
from services.catalog.service.search import SearchIndex
from services.catalog.service.snapshot import snapshot_from_read_model
from services.matcher.service import CatalogReadModel
from shared.platform.db import make_engine
from tests.support.catalog_data import load_real_catalog


@dataclass
class RealCatalog:
    index: SearchIndex
    model: CatalogReadModel


@pytest.fixture(scope="session")
def real_catalog(tmp_path_factory) -> RealCatalog:
    url = f"sqlite:///{tmp_path_factory.mktemp('quality')}/catalog.db"
    load_real_catalog(url)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            read_model = load_read_model(session, "national@monlyceepro.test")
    finally:
        engine.dispose()
    return RealCatalog(SearchIndex(read_model), CatalogReadModel(snapshot_from_read_model(read_model)))
