"""Reading a partner's company file and deciding, row by row, what is imported and what is refused.

Columns (header on line 1; names matched without case, accents or punctuation; ``,`` ``;`` or tab):

| column | accepted names | required |
|---|---|---|
| SIRET | siret | yes |
| company name | nom, entreprise, raison sociale, dénomination, name | yes |
| contact name | contact, nom du contact, interlocuteur, contact name | yes |
| contact email | email, courriel, adresse électronique, email du contact, contact email | yes |
| postal code or commune | commune, code postal, code postal ou commune, lieu, cp | yes |
| NAF | naf, code naf, ape, code ape | column yes, value optional |
| jobs | métiers, jobs | no (several: separated by ``;`` or ``|``) |

Each row passes intake's own rules (``services.intake.service.validation.check_company_fields``: SIRET
Luhn, email syntax and domain, known postal code or commune, NAF form); then it is refused if its
SIRET or address is already in an earlier accepted row of the file, in an earlier import, in a
request intake holds (the company is already served), or if the address unsubscribed. Refusals name
the line (the header is line 1), the column as the file names it, and the reason, in French.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from services.intake.campaigns import repository
from services.intake.campaigns.models import Campaign
from services.intake.service.form import resolve_place
from services.intake.service.validation import check_company_fields
from shared.contracts.request_schema import neutralise
from shared.reference.geo import Commune, CommuneIndex, fold

REQUIRED = "Ce champ est obligatoire."
COLUMNS: dict[str, tuple[str, ...]] = {
    "siret": ("siret", "numero siret", "n siret"),
    "company_name": ("nom", "entreprise", "nom de l entreprise", "nom entreprise", "raison sociale", "denomination",
                     "name", "company name", "company"),
    "contact_name": ("contact", "nom du contact", "nom contact", "contact nom", "interlocuteur", "contact name"),
    "contact_email": ("email", "e mail", "courriel", "mail", "adresse electronique", "email du contact",
                      "email contact", "courriel du contact", "courriel contact", "contact email"),
    "place": ("commune", "code postal", "code postal ou commune", "commune ou code postal", "lieu", "cp",
              "postal code", "ville"),
    "naf": ("naf", "code naf", "ape", "code ape", "naf ape", "code naf ape"),
    "jobs": ("metiers", "metier", "jobs", "metiers recherches"),
}
REQUIRED_COLUMNS = ("siret", "company_name", "contact_name", "contact_email", "place", "naf")
COLUMN_LABELS = {"siret": "SIRET", "company_name": "nom de l'entreprise", "contact_name": "nom du contact",
                 "contact_email": "adresse électronique du contact", "place": "code postal ou commune", "naf": "NAF"}
FIELD_COLUMNS = {"siret": "siret", "naf": "naf", "contact.email": "contact_email",
                 "location.postal_code": "place", "location.commune_insee": "place", "location": "place"}
MAX_LENGTHS = {"company_name": 200, "contact_name": 120}
JOB_SEPARATORS = re.compile(r"[;|]")
MAX_JOBS = 10


class FileProblem(Exception):
    """The file cannot be read as a company file at all (nothing is imported); French message."""


@dataclass(frozen=True)
class Refusal:
    line: int
    column: str  # the column as the file's header names it
    reason: str

    def __str__(self) -> str:
        return f"ligne {self.line}, colonne « {self.column} » : {self.reason}"


@dataclass
class ImportReport:
    campaign: str
    campaign_id: str
    partner: str | None
    rows: int = 0  # data rows read (blank lines skipped)
    imported: int = 0
    refusals: list[Refusal] = field(default_factory=list)
    created: bool = True  # the campaign is new (else the rows were added to it)
    dry_run: bool = False

    @property
    def refused_rows(self) -> int:
        return len({r.line for r in self.refusals})

    def summary(self) -> str:
        verb = "seraient importées" if self.dry_run else "importées"
        head = (f"Campagne « {self.campaign} »" + (f" (partenaire : {self.partner})" if self.partner else "")
                + ("" if self.created else " — lignes ajoutées à la campagne existante") + "\n"
                + f"{self.rows} ligne(s) lue(s), {self.imported} {verb}, {self.refused_rows} refusée(s).")
        if self.dry_run:
            head += "\nVérification seule (--verifier) : rien n'a été enregistré."
        if not self.refusals:
            return head
        return head + "\nRefus :\n" + "\n".join(f"  {r}" for r in self.refusals)


@dataclass
class Row:
    line: int
    values: dict[str, str]  # canonical column -> raw text
    problems: list[tuple[str, str]] = field(default_factory=list)  # (canonical column, reason)
    siret: str | None = None
    email: str | None = None
    naf: str | None = None
    commune: Commune | None = None
    jobs: list[str] = field(default_factory=list)


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else Windows-1252 (a spreadsheet's « CSV » export)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _header_key(name: str) -> str:
    return fold(name.replace("_", " ").replace(".", " ").replace("°", " "))


def read_table(text: str) -> tuple[dict[str, str], list[tuple[int, dict[str, str]]]]:
    """(canonical column -> the header's own name, [(line, canonical column -> text)]). Raises FileProblem."""
    text = text.removeprefix("\ufeff")
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count) if first.strip() else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise FileProblem("Le fichier est vide.") from None
    names: dict[str, str] = {}
    positions: dict[str, int] = {}
    for position, raw in enumerate(header):
        key = _header_key(raw)
        for canonical, aliases in COLUMNS.items():
            if key in aliases and canonical not in positions:
                positions[canonical], names[canonical] = position, raw.strip()
    missing = [c for c in REQUIRED_COLUMNS if c not in positions]
    if missing:
        expected = "; ".join(f"{COLUMN_LABELS[c]} ({', '.join(COLUMNS[c][:4])})" for c in missing)
        raise FileProblem(f"Colonne(s) manquante(s) dans l'en-tête (ligne 1) : {expected}.")
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for cells in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            rows.append((line, {c: (cells[p] if p < len(cells) else "") for c, p in positions.items()}))
    except csv.Error as exc:
        raise FileProblem(f"Ligne {reader.line_num} illisible : {exc}.") from None
    return names, rows


def check_row(line: int, values: dict[str, str], communes: CommuneIndex) -> Row:
    """Intake's rules on one row; problems are (canonical column, French reason)."""
    row = Row(line, {k: str(neutralise(v)).strip() for k, v in values.items()})
    v = row.values
    for column in ("siret", "company_name", "contact_name", "contact_email", "place"):
        if not v.get(column):
            row.problems.append((column, REQUIRED))
    for column, limit in MAX_LENGTHS.items():
        if len(v.get(column, "")) > limit:
            row.problems.append((column, f"Ce champ ne doit pas dépasser {limit} caractères."))
    place = resolve_place(v.get("place", ""), "", communes) if v.get("place") else None
    if place is not None and place.get("commune_insee") == "?":
        row.problems.append(("place", "Commune introuvable : indiquez son code postal (ex. 69007)."))
        place = None
    errors, out = check_company_fields(
        siret=v.get("siret") or None, naf=v.get("naf") or None, email=v.get("contact_email") or None,
        postal=(place or {}).get("postal_code"), insee=(place or {}).get("commune_insee"), communes=communes)
    for error in errors:
        row.problems.append((FIELD_COLUMNS.get(error.field, "place"), error.message))
    if place is not None and out["commune"] is None and not any(c == "place" for c, _ in row.problems):
        row.problems.append(("place", "Commune introuvable : indiquez son code postal (ex. 69007)."))
    jobs = [j.strip() for j in JOB_SEPARATORS.split(v.get("jobs", "")) if j.strip()]
    if any(len(j) > 120 for j in jobs):
        row.problems.append(("jobs", "Un intitulé de métier ne doit pas dépasser 120 caractères."))
    elif len(jobs) > MAX_JOBS:
        row.problems.append(("jobs", f"{MAX_JOBS} métiers au maximum."))
    row.siret, row.email, row.naf, row.commune, row.jobs = out["siret"], out["email"], out["naf"], out["commune"], jobs
    return row


def import_rows(
    session: Session, rows: list[tuple[int, dict[str, str]]], names: dict[str, str], *, campaign_name: str,
    partner: str | None, communes: CommuneIndex, address_hash: Callable[[str], str], now: datetime,
    dry_run: bool = False, chunk: int = 100,
) -> ImportReport:
    """Check every row, then (unless ``dry_run``) write the campaign and every accepted row in the
    caller's transaction: the boundary commits them all, or nothing."""
    existing = repository.campaign_by_name(session, campaign_name)
    if existing is not None and existing.partner != partner:
        raise FileProblem(f"La campagne « {campaign_name} » existe déjà avec le partenaire "
                          f"« {existing.partner or 'aucun'} » : reprenez ce partenaire ou choisissez un autre nom.")
    campaign = existing or Campaign(id=uuid.uuid4().hex, name=campaign_name, partner=partner, created_at=now)
    report = ImportReport(campaign_name, campaign.id, partner, created=existing is None, dry_run=dry_run)
    checked = [check_row(line, values, communes) for line, values in rows]
    report.rows = len(checked)
    sirets = {r.siret for r in checked if r.siret}
    emails = {r.email for r in checked if r.email}
    imported_sirets = repository.imported_sirets(session, sirets)
    imported_emails = repository.imported_emails(session, emails)
    served_sirets = repository.served_sirets(session, sirets)
    served_emails = repository.served_emails(session, emails)
    hashes = {email: address_hash(email) for email in emails}
    unsubscribed = repository.unsubscribed(session, hashes.values())
    seen_sirets: dict[str, int] = {}
    seen_emails: dict[str, int] = {}
    accepted: list[dict[str, object]] = []
    for row in checked:
        problems = list(row.problems)
        if row.siret:
            if row.siret in seen_sirets:
                problems.append(("siret", f"SIRET en double dans le fichier (déjà ligne {seen_sirets[row.siret]})."))
            if row.siret in imported_sirets:
                problems.append(("siret", f"SIRET déjà importé (campagne « {imported_sirets[row.siret]} »)."))
            if row.siret in served_sirets:
                problems.append(("siret", "Entreprise déjà servie : une demande a déjà été déposée avec ce SIRET."))
        if row.email:
            if row.email in seen_emails:
                problems.append(("contact_email",
                                 f"Adresse en double dans le fichier (déjà ligne {seen_emails[row.email]})."))
            if row.email in imported_emails:
                problems.append(("contact_email",
                                 f"Adresse déjà importée (campagne « {imported_emails[row.email]} »)."))
            if row.email in served_emails:
                problems.append(("contact_email",
                                 "Entreprise déjà servie : une demande a déjà été déposée avec cette adresse."))
            if hashes[row.email] in unsubscribed:
                problems.append(("contact_email", "Adresse désinscrite : elle ne reçoit plus d'invitation."))
        if problems:
            report.refusals += [Refusal(row.line, names.get(column, column), reason) for column, reason in problems]
            continue
        assert row.siret and row.email and row.commune is not None  # no problem: every required value is there
        seen_sirets[row.siret] = seen_emails[row.email] = row.line
        commune = row.commune
        territoire = communes.territoire(commune.departement)
        accepted.append({
            "campaign_id": campaign.id, "line": row.line, "siret": row.siret,
            "company_name": row.values["company_name"], "contact_name": row.values["contact_name"],
            "contact_email": row.email, "postal_code": commune.postal_code or None,
            "commune_insee": commune.insee, "commune_name": commune.name,
            "naf": row.naf, "jobs": row.jobs, "departement": commune.departement,
            "academie": territoire.academie if territoire else None, "imported_at": now, "opened_at": None,
            "request_id": None, "submitted_at": None, "erased_at": None, "erasure_reason": None,
        })
    report.imported = len(accepted)
    if not dry_run:
        if existing is None:
            repository.add_campaign(session, campaign)
        for start in range(0, len(accepted), chunk):
            repository.insert_contacts(session, accepted[start:start + chunk])
    return report
