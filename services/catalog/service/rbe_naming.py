"""Naming a lycée's RBE (issue 22, item 1): the school names one or more RBEs through the signed link its
official address received; each named RBE confirms through a link sent to their own address; the first
confirmation of a naming makes that RBE the lycée's routing contact.

Until a named RBE confirms, the lycée's previous contact (its official address, or the RBE it had) keeps
receiving requests: a typo in an address never diverts a request to nobody. Never commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from services.catalog import naming_repository as naming_repo
from services.catalog import repository as repo
from services.catalog.models import CONFIRM_MAILING, RbeNomination
from services.catalog.service.directory import normalize_email
from services.catalog.service.rbe_mailings import queue_mail
from shared.contracts.events import CatalogChanged, RbeChange
from shared.platform.errors import FieldError
from shared.platform.outbox import add_to_outbox

MAX_NAMED = 3  # RBEs named at once by the form
NAME_MAX, ROLE_MAX = 200, 120


@dataclass(frozen=True)
class NamedPerson:
    name: str
    email: str
    role: str


def parse_people(rows: list[tuple[str, str, str]]) -> tuple[list[NamedPerson], list[FieldError]]:
    """The form's lines (name, email, role); blank lines are skipped. Errors name the field (French)."""
    people: list[NamedPerson] = []
    errors: list[FieldError] = []
    seen: set[str] = set()
    for i, (name, email, role) in enumerate(rows[:MAX_NAMED], start=1):
        name, email, role = name.strip(), email.strip(), role.strip()
        if not (name or email or role):
            continue
        if not name:
            errors.append(FieldError(f"nom_{i}", "Indiquez le nom et le prénom du ou de la RBE."))
        elif len(name) > NAME_MAX:
            errors.append(FieldError(f"nom_{i}", f"Nom trop long ({NAME_MAX} caractères au plus)."))
        try:
            normalized = normalize_email(email) if email else ""
        except ValueError:
            normalized = ""
            errors.append(
                FieldError(
                    f"email_{i}",
                    "Adresse électronique invalide : vérifiez sa saisie (ex. prenom.nom@ac-lyon.fr).",
                )
            )
        if not email:
            errors.append(FieldError(f"email_{i}", "Indiquez l'adresse électronique professionnelle."))
        elif normalized and normalized in seen:
            errors.append(FieldError(f"email_{i}", "Cette adresse est déjà indiquée plus haut."))
        if len(role) > ROLE_MAX:
            errors.append(
                FieldError(f"fonction_{i}", f"Fonction trop longue ({ROLE_MAX} caractères au plus).")
            )
        if normalized:
            seen.add(normalized)
            people.append(NamedPerson(name[:NAME_MAX], normalized, role[:ROLE_MAX]))
    if not people and not errors:
        errors.append(
            FieldError("nom_1", "Indiquez au moins un ou une RBE : nom, adresse électronique et fonction.")
        )
    return people, errors


def nominate(
    session: Session, uai: str, people: list[NamedPerson], *, source: str, now: datetime, mail_domain: str
) -> list[RbeNomination]:
    """Record a naming: the lycée's pending names are withdrawn, each new one gets a confirmation email
    (a mailing row, sent after the commit). Confirmed RBEs stay until one of these confirms."""
    for pending in naming_repo.nominations_of(session, uai, ("pending",)):
        pending.status = "withdrawn"
        session.add(pending)
    batch = uuid.uuid4().hex
    rows = [
        RbeNomination(
            uai=uai, batch=batch, email=p.email, name=p.name, role=p.role, source=source, created_at=now
        )
        for p in people
    ]
    for row in rows:
        session.add(row)
    session.flush()
    lycee = repo.get_lycee(session, uai)
    for row in rows:
        queue_mail(
            session,
            CONFIRM_MAILING,
            uai,
            lycee.academie if lycee else "",
            "confirmation",
            str(row.id),
            row.email,
            now,
            mail_domain,
        )
    return rows


def nominate_import(
    session: Session,
    email: str,
    name: str,
    uais: list[str],
    *,
    now: datetime,
    mail_domain: str,
    deputy_email: str | None = None,
) -> list[RbeNomination]:
    """An académie's list (``import-rbe``): the RBE is named for each of their lycées in one batch and gets ONE
    confirmation link, which confirms them for all of these lycées at once. The list's deputy, if any, waits
    with the naming and enters the directory with the confirmation."""
    batch = uuid.uuid4().hex
    rows = []
    for uai in uais:
        for pending in naming_repo.nominations_of(session, uai, ("pending",)):
            pending.status = "withdrawn"
            session.add(pending)
        rows.append(
            RbeNomination(
                uai=uai,
                batch=batch,
                email=email,
                name=name[:NAME_MAX],
                source="import",
                created_at=now,
                deputy_email=deputy_email,
            )
        )
    for row in rows:
        session.add(row)
    session.flush()
    lycee = repo.get_lycee(session, rows[0].uai)
    queue_mail(
        session,
        CONFIRM_MAILING,
        rows[0].uai,
        lycee.academie if lycee else "",
        "confirmation",
        str(rows[0].id),
        email,
        now,
        mail_domain,
    )
    return rows


@dataclass(frozen=True)
class Confirmation:
    outcome: str  # confirmed | already | stale (withdrawn or replaced since)
    nomination: RbeNomination | None
    lycee_name: str = ""
    routing: bool = False  # this RBE now receives the lycée's requests


def confirm(
    session: Session, nomination_id: int, *, now: datetime, correlation_id: str, mail_domain: str
) -> Confirmation:
    """The named RBE clicked: they are confirmed (for every lycée of that naming: an import names one RBE for
    several); for each lycée the first of a naming becomes the routing contact (a previous named RBE is told),
    later ones are added. The notifier learns it from the event."""
    row = naming_repo.get_nomination(session, nomination_id)
    if row is None or row.status in ("withdrawn", "replaced"):
        return Confirmation("stale", row)
    lycee = repo.get_lycee(session, row.uai)
    name = lycee.name if lycee else row.uai
    if row.status == "confirmed":
        return Confirmation("already", row, name)
    changes: list[RbeChange] = []
    routing = False
    for nomination in naming_repo.batch_pending(session, row.batch, row.email):
        change = _confirm_one(session, nomination, now, mail_domain)
        routing = (
            routing
            or (change is not None and change.replaces)
            or (change is None and nomination.id == row.id)
        )
        if change is not None:
            changes.append(change)
    repo.bump_version(session)
    add_to_outbox(
        session,
        CatalogChanged(
            correlation_id=correlation_id,
            uais=sorted({c.uai for c in changes} | {row.uai}),
            change="rbe",
            rbe_changes=changes,
        ),
    )
    return Confirmation("confirmed", row, name, routing=routing)


def _confirm_one(session: Session, row: RbeNomination, now: datetime, mail_domain: str) -> RbeChange | None:
    """One lycée's nomination confirmed; the change of its contacts (None: the RBE already was its contact)."""
    row.status, row.confirmed_at = "confirmed", now
    session.add(row)
    lycee = repo.get_lycee(session, row.uai)
    current = naming_repo.contact_of(session, row.uai)
    batch_confirmed = {
        n.email
        for n in naming_repo.nominations_of(session, row.uai, ("confirmed",))
        if n.batch == row.batch and n.id != row.id
    }
    previous_email = current.email if current else ""
    replaces = current is None or current.is_generic or current.email not in batch_confirmed
    if replaces:
        for older in naming_repo.nominations_of(session, row.uai, ("confirmed",)):
            if older.batch != row.batch:
                older.status = "replaced"
                session.add(older)
        naming_repo.upsert_named_rbe(session, row.email, row.name, deputy_email=row.deputy_email)
        repo.assign_coverage(session, row.email, [row.uai])
        if current is not None and not current.is_generic and current.email != row.email:
            queue_mail(
                session,
                CONFIRM_MAILING,
                row.uai,
                lycee.academie if lycee else "",
                "remplace",
                str(row.id),
                current.email,
                now,
                mail_domain,
            )
    else:
        naming_repo.upsert_named_rbe(
            session, row.email, row.name, keep_existing=True, deputy_email=row.deputy_email
        )
    if previous_email == row.email:
        return None
    return RbeChange(
        uai=row.uai,
        lycee_name=lycee.name if lycee else row.uai,
        previous_email=previous_email,
        new_email=row.email,
        new_name=row.name,
        replaces=replaces,
    )
