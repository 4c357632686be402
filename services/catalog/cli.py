"""Catalog sub-commands of `monlyceepro`: load-catalog, import-rbe, rbe-invite and import-referents."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from services.catalog.migrations import SCHEMA
from services.catalog.service.directory import ImportReport
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


def _import_csv(argv: list[str], prog: str, description: str, columns: str,
                importer: Callable[[Engine, str, str], ImportReport],
                parser: argparse.ArgumentParser | None = None) -> tuple[int, ImportReport | None]:
    parser = parser or argparse.ArgumentParser(prog=f"monlyceepro {prog}", description=description)
    parser.add_argument("file", type=Path, help=f"CSV : {columns}")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    try:
        content = args.file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"Impossible de lire {args.file} : {exc}", file=sys.stderr)
        return 2, None
    engine = _engine(args.database_url)
    try:
        report = importer(engine, content, f"import-{uuid.uuid4().hex[:12]}")
    finally:
        engine.dispose()
    return (0 if not report.errors else 1), report


def _print_errors(report: ImportReport) -> None:
    for error in report.errors:
        print(f"  ligne {error.line} : {error.message}")


def import_rbe(argv: list[str]) -> int:
    from services.catalog.models import CONFIRM_MAILING
    from services.catalog.tasks import import_rbe_csv, rbe_mailer

    parser = argparse.ArgumentParser(prog="monlyceepro import-rbe", description=(
        "Importer l'annuaire des RBE d'une académie (CSV). Chaque RBE confirme par un lien reçu à son adresse ; "
        "d'ici là, les demandes vont à l'adresse actuelle du lycée."))
    parser.add_argument("--confirmes", action="store_true",
                        help="adresses déjà vérifiées par l'académie : les RBE reçoivent les demandes tout de suite")
    confirmed = "--confirmes" in argv

    def importer(engine: Engine, content: str, correlation_id: str) -> ImportReport:
        report = import_rbe_csv(engine, content, correlation_id, confirmed)
        if report.imported and not confirmed:
            sent = asyncio.run(rbe_mailer(engine, get_settings(), CONFIRM_MAILING).run())
            print(f"{sent.sent} lien(s) de confirmation envoyé(s) aux RBE importés.")
        return report

    code, report = _import_csv(argv, "import-rbe", "", "name,email,uais,deputy_email (uais séparés par « ; »)",
                               importer, parser)
    if report is not None:
        print(f"{report.imported} ligne(s) importée(s), {len(report.errors)} ligne(s) refusée(s).")
        if report.imported and not confirmed:
            print("Les demandes iront à chaque RBE dès qu'il ou elle aura confirmé.")
        _print_errors(report)
    return code


def import_referents(argv: list[str]) -> int:
    from services.catalog.tasks import import_referents_csv

    code, report = _import_csv(argv, "import-referents", "Importer l'annuaire des référents entreprises des "
                               "académies (CSV, tout ou rien).", "academie,name,email", import_referents_csv)
    if report is not None and report.errors:
        print(f"Aucun référent importé : {len(report.errors)} ligne(s) à corriger.")
        _print_errors(report)
    elif report is not None:
        print(f"{report.imported} référent(s) importé(s).")
    return code


def _rbe_invite(argv: list[str]) -> int:
    from services.catalog.rbe_invite_cli import rbe_invite

    return rbe_invite(argv)


# The `monlyceepro` sub-commands this service brings (composed by services/cli.py).
COMMANDS = {
    "load-catalog": (load_catalog, "charger le catalogue depuis data/ (idempotent)"),
    "import-rbe": (import_rbe, "importer l'annuaire des RBE depuis un CSV"),
    "rbe-invite": (_rbe_invite, "inviter les lycées à désigner leur RBE : send | remind | status"),
    "import-referents": (import_referents, "importer l'annuaire des référents entreprises des académies (CSV)"),
}
