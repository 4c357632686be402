"""Académie referents directory: CSV import (columns academie,name,email), all or nothing.

Every line is checked first (French message per line, as ``import-rbe`` does); one refused line and
nothing is written. A referent is keyed by their address: importing it again moves them or renames them.
"""

from __future__ import annotations

import re

from sqlmodel import Session

from services.catalog import repository as repo
from services.catalog.service.directory import ImportReport, LineError, csv_rows, normalize_email
from shared.contracts.events import CatalogChanged
from shared.platform.outbox import add_to_outbox
from shared.reference.geo import fold

REQUIRED_COLUMNS = ("academie", "name", "email")
MAX_ROWS = 2_000
_PREFIX = re.compile(r"^(academie|ac)\s+(de|d')\s*")


def academie_key(value: str) -> str:
    """« Académie de Lyon », « lyon », « LYON » → the same key."""
    return _PREFIX.sub("", " ".join(fold(value).replace("-", " ").split()))


def import_referent_rows(session: Session, content: str, correlation_id: str) -> ImportReport:
    """Check every line; write them all only when none is refused. Never commits (the caller does)."""
    report = ImportReport()
    reader = csv_rows(content, REQUIRED_COLUMNS, "academie,name,email", report)
    if reader is None:
        return report
    known = {academie_key(a): a for a in repo.academies(session)}
    rows: list[tuple[str, str, str]] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(reader, start=2):
        if number > MAX_ROWS + 1:
            report.errors.append(LineError(number, f"fichier trop long : {MAX_ROWS} lignes au plus"))
            break
        row = {k: (v or "").strip() for k, v in raw.items() if isinstance(k, str)}
        if not any(row.values()):
            continue
        problems: list[str] = []
        typed = row.get("academie", "")
        academie = known.get(academie_key(typed)) if typed else None
        if not typed:
            problems.append("académie manquante")
        elif academie is None:
            problems.append(f"académie inconnue « {typed[:80]} »")
        name = row.get("name", "")
        if not name:
            problems.append("nom manquant")
        elif len(name) > 200:
            problems.append("nom trop long (200 caractères au plus)")
        email = None
        try:
            email = normalize_email(row.get("email", ""))
        except ValueError as exc:
            problems.append(str(exc))
        if email is not None and email in seen:
            problems.append(f"adresse déjà donnée ligne {seen[email]}")
        if problems:
            report.errors.append(LineError(number, " ; ".join(problems)))
            continue
        assert email is not None and academie is not None
        seen[email] = number
        rows.append((email, academie, name))
    if not rows and not report.errors:
        report.errors.append(LineError(2, "aucun référent dans le fichier"))
    if report.errors:
        return report  # all or nothing: one refused line and the directory is left as it was
    for email, academie, name in rows:
        repo.upsert_referent(session, email, academie, name)
    report.imported = len(rows)
    repo.bump_version(session)  # the académies' contact changes in the snapshot (see readmodel.load_directory)
    add_to_outbox(session, CatalogChanged(correlation_id=correlation_id, uais=[], change="rbe"))
    return report
