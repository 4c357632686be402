"""The catalog's boundaries for work outside HTTP: loading the open data (CLI, `monlyceepro up`, tests) and
importing the RBE directory (CLI and admin API). Each commits once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from services.catalog import repository as repo
from services.catalog.open_data import fingerprint, generic_contacts, read_catalog
from services.catalog.service.directory import ImportReport, import_rbe_rows
from services.catalog.service.referents import import_referent_rows
from services.catalog.service.vocabulary import build_vocabulary
from shared.contracts.events import CatalogChanged
from shared.platform.db import unit_of_work
from shared.platform.outbox import add_to_outbox


@dataclass
class LoadResult:
    changed: bool
    counts: dict[str, int]
    generic_contacts_added: int = 0


def load_catalog_into(engine: Engine, data_dir: Path, force: bool = False) -> LoadResult:
    """Idempotent: when the data files are unchanged since the last load, nothing is written."""
    digest = fingerprint(data_dir)
    with unit_of_work(engine) as session:
        if not force and repo.get_meta(session, "data_fingerprint") == digest:
            return LoadResult(changed=False, counts=repo.reference_counts(session))
    data = read_catalog(data_dir)
    vocabulary = build_vocabulary(data_dir)
    with unit_of_work(engine) as session:
        repo.replace_reference_data(session, data)
        repo.set_vocabulary(session, vocabulary)
        added = repo.ensure_generic_contacts(session, generic_contacts(data.lycees))
        repo.set_meta(session, "data_fingerprint", digest)
        repo.bump_version(session)
        add_to_outbox(session, CatalogChanged(correlation_id=f"load-{uuid.uuid4().hex[:12]}", uais=[], change="reload"))
    return LoadResult(changed=True, counts=data.counts(), generic_contacts_added=added)


def import_rbe_csv(engine: Engine, content: str, correlation_id: str) -> ImportReport:
    with unit_of_work(engine) as session:
        return import_rbe_rows(session, content, correlation_id)


def import_referents_csv(engine: Engine, content: str, correlation_id: str) -> ImportReport:
    with unit_of_work(engine) as session:
        return import_referent_rows(session, content, correlation_id)
