"""What an RBE may add to their lycée's profile beyond the essentials (rbe_edits.py): platforms, labels and
networks, partner companies (with consent), events, PFMP periods per class, a logo or photo.

Validated, no commit (the boundary commits); every change bumps the version and publishes
``CatalogChanged(change="profile")`` through the outbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime

from sqlmodel import Session

from services.catalog import repository as repo
from services.catalog.models import LyceeImage, LyceeSettings, PartnerCompany, PfmpPeriod, ProfileEvent
from services.catalog.service.images import clean_image
from services.catalog.service.profile import EVENT_KINDS, lines
from services.catalog.service.rbe_edits import EditError, check_owner, parse_day
from shared.contracts.events import CatalogChanged
from shared.platform.outbox import add_to_outbox
from shared.reference.periods import PFMP_CLASSES, PeriodError, parse_period

MAX_LINES = 20
MAX_LINE = 200
MAX_ROWS = 30
MAX_DETAILS = 1000


def _published(session: Session, uai: str, correlation_id: str) -> None:
    repo.bump_version(session)
    add_to_outbox(session, CatalogChanged(correlation_id=correlation_id, uais=[uai], change="profile"))


def _lines(value: str, label: str, key: str, errors: dict[str, str]) -> str:
    found = lines(value)
    if len(found) > MAX_LINES or any(len(line) > MAX_LINE for line in found):
        errors[key] = f"{label} : {MAX_LINES} lignes au plus, de {MAX_LINE} caractères chacune."
    return "\n".join(found)


def update_showcase(session: Session, email: str, uai: str, form: Mapping[str, str], correlation_id: str) -> None:
    """Technical platforms and equipment, labels and networks."""
    check_owner(session, email, uai)
    errors: dict[str, str] = {}
    platforms = _lines(form.get("platforms", ""), "Plateaux techniques", "platforms", errors)
    networks = _lines(form.get("networks", ""), "Autres réseaux", "networks", errors)
    metiers = form.get("label_lycee_metiers", "").strip()
    cmq = form.get("label_cmq", "").strip()
    for key, value, label in (("label_lycee_metiers", metiers, "Lycée des métiers"),
                              ("label_cmq", cmq, "Campus des métiers et des qualifications")):
        if len(value) > MAX_LINE:
            errors[key] = f"{label} : {MAX_LINE} caractères au plus."
    if errors:
        raise EditError(errors)
    row = repo.get_settings_row(session, uai) or LyceeSettings(uai=uai)
    row.platforms, row.networks, row.label_lycee_metiers, row.label_cmq = platforms, networks, metiers, cmq
    repo.save_settings_row(session, row)
    _published(session, uai, correlation_id)


def update_partners(session: Session, email: str, uai: str, form: Mapping[str, str], correlation_id: str) -> None:
    """Each recorded partner has its consent box and a « retirer » box; one new partner may be added."""
    check_owner(session, email, uai)
    now = datetime.now(UTC)
    partners = repo.partners_of(session, uai)
    for partner in partners:
        if form.get(f"retirer-{partner.id}"):
            repo.delete_owned(session, PartnerCompany, uai, partner.id or 0)
            continue
        consent = bool(form.get(f"accord-{partner.id}"))
        if consent != (partner.consent_at is not None):
            partner.consent_at = now if consent else None
            repo.add_row(session, partner)
    name = form.get("nouveau_nom", "").strip()
    if name:
        if len(name) > 120:
            raise EditError({"partners": "Le nom de l'entreprise doit faire au plus 120 caractères."})
        if len(partners) >= MAX_ROWS:
            raise EditError({"partners": f"{MAX_ROWS} entreprises partenaires au plus."})
        repo.add_row(session, PartnerCompany(uai=uai, name=name, consent_at=now if form.get("nouveau_accord") else None))
    _published(session, uai, correlation_id)


def add_event(session: Session, email: str, uai: str, form: Mapping[str, str], today: date,
              correlation_id: str) -> None:
    check_owner(session, email, uai)
    errors: dict[str, str] = {}
    kind = form.get("kind", "")
    if kind not in EVENT_KINDS:
        errors["kind"] = "Choisissez le type d'événement."
    title = form.get("title", "").strip() or EVENT_KINDS.get(kind, "")
    if len(title) > 120:
        errors["title"] = "L'intitulé doit faire au plus 120 caractères."
    start = parse_day(form.get("starts_on", ""), "Date", errors, "starts_on")
    end = parse_day(form.get("ends_on", ""), "Date de fin", errors, "ends_on")
    if start is None and "starts_on" not in errors:
        errors["starts_on"] = "Indiquez la date de l'événement."
    elif start is not None and start < today:
        errors["starts_on"] = "La date de l'événement est passée : indiquez une date à venir."
    if start and end and end < start:
        errors["ends_on"] = "La date de fin doit être après la date de début."
    details = form.get("details", "").strip()
    if len(details) > MAX_DETAILS:
        errors["details"] = f"Les précisions doivent faire au plus {MAX_DETAILS} caractères."
    if len(repo.events_of(session, uai)) >= MAX_ROWS:
        errors["kind"] = f"{MAX_ROWS} événements au plus : supprimez-en un passé."
    if errors:
        raise EditError(errors)
    assert start is not None
    repo.add_row(session, ProfileEvent(uai=uai, kind=kind, title=title, starts_on=start,
                                       ends_on=end if end != start else None, details=details))
    _published(session, uai, correlation_id)


def add_pfmp(session: Session, email: str, uai: str, form: Mapping[str, str], cfds: set[str],
             correlation_id: str) -> None:
    """``cfds``: the formations the lycée teaches (a period may concern one of them, or the whole class)."""
    check_owner(session, email, uai)
    errors: dict[str, str] = {}
    classe = form.get("classe", "")
    if classe not in PFMP_CLASSES:
        errors["classe"] = "Choisissez la classe."
    cfd = form.get("cfd", "").strip() or None
    if cfd is not None and cfd not in cfds:
        errors["cfd"] = "Cette formation n'est pas enseignée dans ce lycée."
    dates = form.get("dates", "").strip()
    period = None
    try:
        period = parse_period(dates, strict=True)
        if period is None:
            errors["dates"] = "Indiquez des dates, par exemple « du 2 au 27 mars » ou « janvier-février »."
    except PeriodError as exc:
        errors["dates"] = str(exc)
    if len(dates) > 200:
        errors["dates"] = "Les dates doivent tenir en 200 caractères."
    if len(repo.pfmp_periods_of(session, uai)) >= MAX_ROWS:
        errors["classe"] = f"{MAX_ROWS} périodes au plus."
    if errors:
        raise EditError(errors)
    assert period is not None
    repo.add_row(session, PfmpPeriod(uai=uai, classe=classe, cfd=cfd, dates=dates, ranges=period.code()))
    _published(session, uai, correlation_id)


def delete_item(session: Session, email: str, uai: str, what: str, row_id: int, correlation_id: str) -> None:
    check_owner(session, email, uai)
    model: type[ProfileEvent] | type[PfmpPeriod] = ProfileEvent if what == "evenements" else PfmpPeriod
    if not repo.delete_owned(session, model, uai, row_id):
        raise EditError({what: "Élément introuvable : il a peut-être déjà été supprimé."})
    _published(session, uai, correlation_id)


def save_image(session: Session, email: str, uai: str, kind: str, data: bytes, correlation_id: str) -> None:
    """Raises ImageRefused (French message) for anything that is not a real image."""
    check_owner(session, email, uai)
    content, mime, width, height, digest = clean_image(data, kind)
    repo.save_image(session, LyceeImage(uai=uai, kind=kind, mime=mime, width=width, height=height, digest=digest,
                                        content=content))
    _published(session, uai, correlation_id)


def remove_image(session: Session, email: str, uai: str, correlation_id: str) -> None:
    check_owner(session, email, uai)
    if repo.delete_image(session, uai):
        _published(session, uai, correlation_id)
