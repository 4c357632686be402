"""What an RBE may change about their lycées (validated, no commit: the boundary commits)."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from services.catalog import repository as repo
from services.catalog.models import LyceeSettings
from services.catalog.service.directory import normalize_email
from shared.contracts.events import NEED_TYPES, CatalogChange, CatalogChanged
from shared.platform.outbox import add_to_outbox

MAX_PITCH = 2000
MAX_PERIODS = 500


class EditError(ValueError):
    """Invalid input from the RBE form; messages in French, one per field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def check_owner(session: Session, email: str, uai: str) -> None:
    if uai not in repo.uais_of_rbe(session, email):
        raise PermissionError("Ce lycée ne fait pas partie de ceux dont vous êtes responsable.")


def update_lycee(session: Session, email: str, uai: str, pitch: str, services: list[str], pfmp_periods: str | None,
                 monthly_capacity: str, correlation_id: str, draft: str | None = None) -> str:
    """Returns the kind of change published; raises PermissionError / EditError. ``pfmp_periods`` (the free
    text of before the periods per class) is left as it is when None; ``draft``: the pitch proposed from the
    data, so that a pitch saved unchanged is told apart from one the lycée wrote."""
    check_owner(session, email, uai)
    errors: dict[str, str] = {}
    pitch = pitch.strip()
    if len(pitch) > MAX_PITCH:
        errors["pitch"] = f"La présentation doit faire au plus {MAX_PITCH} caractères."
    unknown = [s for s in services if s not in NEED_TYPES]
    if unknown:
        errors["services"] = "Service inconnu : " + ", ".join(s[:20] for s in unknown[:3]) + "."
    pfmp_periods = pfmp_periods.strip() if pfmp_periods is not None else None
    if pfmp_periods is not None and len(pfmp_periods) > MAX_PERIODS:
        errors["pfmp_periods"] = f"Les périodes de stage doivent tenir en {MAX_PERIODS} caractères."
    capacity: int | None = None
    if monthly_capacity.strip():
        try:
            capacity = int(monthly_capacity.strip())
            if not 0 <= capacity <= 1000:
                raise ValueError
        except ValueError:
            errors["monthly_capacity"] = "La capacité mensuelle doit être un nombre entier entre 0 et 1000 (ou vide)."
    if errors:
        raise EditError(errors)
    row = repo.get_settings_row(session, uai) or LyceeSettings(uai=uai)
    change: CatalogChange = "capacity" if row.monthly_capacity != capacity else "profile"
    if pitch != row.pitch:
        row.pitch_origin = "" if not pitch else "brouillon" if draft and " ".join(pitch.split()) == " ".join(draft.split()) else "lycee"
    row.pitch = pitch
    row.services = ";".join(s for s in NEED_TYPES if s in services)
    if pfmp_periods is not None:
        row.pfmp_periods = pfmp_periods
    row.monthly_capacity = capacity
    repo.save_settings_row(session, row)
    repo.bump_version(session)
    add_to_outbox(session, CatalogChanged(correlation_id=correlation_id, uais=[uai], change=change))
    return change


def parse_day(value: str, label: str, errors: dict[str, str], key: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        errors[key] = f"{label} : date invalide (format attendu AAAA-MM-JJ)."
        return None


def update_absence(session: Session, email: str, absent_from: str, absent_until: str, deputy_email: str,
                   correlation_id: str) -> None:
    rbe = repo.get_rbe(session, email)
    if rbe is None:
        raise PermissionError("Adresse inconnue dans l'annuaire.")
    errors: dict[str, str] = {}
    start = parse_day(absent_from, "Début d'absence", errors, "absent_from")
    end = parse_day(absent_until, "Fin d'absence", errors, "absent_until")
    if (start is None) != (end is None) and not errors:
        errors["absent_until"] = "Indiquez le début et la fin de l'absence (ou aucun des deux)."
    if start and end and end < start:
        errors["absent_until"] = "La fin de l'absence doit être après son début."
    deputy: str | None = None
    if deputy_email.strip():
        try:
            deputy = normalize_email(deputy_email)
        except ValueError as exc:
            errors["deputy_email"] = "Suppléant : " + str(exc) + "."
        if deputy == rbe.email:
            errors["deputy_email"] = "Le suppléant doit être une autre personne que vous."
    if errors:
        raise EditError(errors)
    rbe.absent_from, rbe.absent_until, rbe.deputy_email = start, end, deputy
    session.add(rbe)
    repo.bump_version(session)
    add_to_outbox(session, CatalogChanged(correlation_id=correlation_id, uais=repo.uais_of_rbe(session, rbe.email),
                                          change="absence"))
