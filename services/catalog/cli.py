"""Catalog sub-commands of `monlyceepro`: load-catalog and import-rbe."""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

from services.catalog.migrations import SCHEMA
from services.catalog.tasks import load_catalog_into
from shared.platform.db import make_engine
from shared.platform.migrations import check_schema
from shared.platform.settings import get_settings


def _engine(database_url: str | None):
    settings = get_settings()
    engine = make_engine(database_url or settings.database_url_for("catalog"))
    check_schema(SCHEMA, engine, upgrade_empty=settings.env != "prod")
    return engine


def load_catalog(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="monlyceepro load-catalog", description="Charger les données ouvertes de data/.")
    parser.add_argument("--data-dir", type=Path, default=None, help="dossier des CSV (défaut : data/)")
    parser.add_argument("--database-url", default=None, help="base du catalogue (défaut : MLP_DATABASE_URL)")
    parser.add_argument("--force", action="store_true", help="recharger même si les fichiers n'ont pas changé")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    engine = _engine(args.database_url)
    try:
        result = load_catalog_into(engine, args.data_dir or get_settings().data_dir, force=args.force)
    finally:
        engine.dispose()
    state = "chargé" if result.changed else "déjà à jour (aucune modification)"
    print(f"Catalogue {state} en {time.perf_counter() - started:.1f} s :")
    for name, value in result.counts.items():
        print(f"  {name:16s} {value}")
    if result.changed:
        print(f"  contacts génériques ajoutés : {result.generic_contacts_added}")
    return 0


def import_rbe(argv: list[str]) -> int:
    from services.catalog.tasks import import_rbe_csv

    parser = argparse.ArgumentParser(prog="monlyceepro import-rbe", description="Importer l'annuaire des RBE (CSV).")
    parser.add_argument("file", type=Path, help="CSV : name,email,uais,deputy_email (uais séparés par « ; »)")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    try:
        content = args.file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"Impossible de lire {args.file} : {exc}", file=sys.stderr)
        return 2
    engine = _engine(args.database_url)
    try:
        report = import_rbe_csv(engine, content, correlation_id=f"import-{uuid.uuid4().hex[:12]}")
    finally:
        engine.dispose()
    print(f"{report.imported} ligne(s) importée(s), {len(report.errors)} ligne(s) refusée(s).")
    for error in report.errors:
        print(f"  ligne {error.line} : {error.message}")
    return 0 if not report.errors else 1


# The `monlyceepro` sub-commands this service brings (composed by services/cli.py).
COMMANDS = {
    "load-catalog": (load_catalog, "charger le catalogue depuis data/ (idempotent)"),
    "import-rbe": (import_rbe, "importer l'annuaire des RBE depuis un CSV"),
}
