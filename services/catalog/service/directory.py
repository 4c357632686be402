"""RBE directory: CSV import (admin) — columns name,email,uais,deputy_email."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session

from services.catalog import repository as repo
from shared.contracts.events import CatalogChanged
from shared.platform.outbox import add_to_outbox

UAI_RE = re.compile(r"^\d{7}[A-Z]$")
REQUIRED_COLUMNS = ("name", "email", "uais")
MAX_ROWS = 20_000


@dataclass
class LineError:
    line: int
    message: str


@dataclass
class ImportReport:
    imported: int = 0
    errors: list[LineError] = field(default_factory=list)
    uais: set[str] = field(default_factory=set)


def normalize_email(value: str) -> str:
    """Lower-cased, syntax-checked address; raises ValueError with a French message."""
    value = value.strip()
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise ValueError(f"adresse électronique invalide « {value[:80]} »") from None


def csv_rows(content: str, required: tuple[str, ...], expected: str, report: ImportReport) -> csv.DictReader | None:
    """A reader over a directory CSV with lower-cased column names; None (the error reported on line 1)
    when a required column is missing."""
    reader = csv.DictReader(io.StringIO(content))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        report.errors.append(LineError(1, "colonnes manquantes : " + ", ".join(missing) + f" (attendu : {expected})"))
        return None
    reader.fieldnames = header
    return reader


# What an import does with a valid line instead of routing to the RBE at once:
# (session, email, name, uais, deputy_email).
Nominate = Callable[[Session, str, str, list[str], str | None], None]


def import_rbe_rows(session: Session, content: str, correlation_id: str, nominate: Nominate | None = None) -> ImportReport:
    """Import what is valid, report the rest line by line. Never commits (the caller does). ``nominate``: each
    valid line becomes a naming awaiting the RBE's confirmation (the routing does not change yet); without it
    the RBEs route at once (an académie's list already verified)."""
    report = ImportReport()
    reader = csv_rows(content, REQUIRED_COLUMNS, "name,email,uais,deputy_email", report)
    if reader is None:
        return report
    for number, raw in enumerate(reader, start=2):
        if number > MAX_ROWS + 1:
            report.errors.append(LineError(number, f"fichier trop long : {MAX_ROWS} lignes au plus"))
            break
        row = {k: (v or "").strip() for k, v in raw.items() if k}
        if not any(row.values()):
            continue
        problems: list[str] = []
        name = row.get("name", "")
        if not name:
            problems.append("nom manquant")
        elif len(name) > 200:
            problems.append("nom trop long (200 caractères au plus)")
        email = deputy = None
        try:
            email = normalize_email(row.get("email", ""))
        except ValueError as exc:
            problems.append(str(exc))
        if row.get("deputy_email"):
            try:
                deputy = normalize_email(row["deputy_email"])
            except ValueError as exc:
                problems.append("suppléant : " + str(exc))
            if deputy and deputy == email:
                problems.append("le suppléant doit être une autre personne que le RBE")
        uais = [u.strip().upper() for u in row.get("uais", "").split(";") if u.strip()]
        if not uais:
            problems.append("aucune UAI indiquée")
        bad_format = [u for u in uais if not UAI_RE.match(u)]
        if bad_format:
            problems.append("UAI mal formée : " + ", ".join(u[:12] for u in bad_format[:5]))
        unknown = sorted(set(uais) - set(bad_format) - repo.existing_uais(session, uais))
        if unknown:
            problems.append("UAI inconnue : " + ", ".join(unknown[:5]))
        if problems:
            report.errors.append(LineError(number, " ; ".join(problems)))
            continue
        assert email is not None
        report.imported += 1
        if nominate is not None:
            nominate(session, email, name, uais, deputy)
            continue
        repo.upsert_rbe(session, email, name, deputy)
        repo.assign_coverage(session, email, uais)
        report.uais.update(uais)
    if report.uais:
        repo.bump_version(session)
        add_to_outbox(session, CatalogChanged(correlation_id=correlation_id, uais=sorted(report.uais), change="rbe"))
    return report
