"""All SQL of the catalog service."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime

from sqlalchemy import delete, func, insert
from sqlalchemy import select as sql_select
from sqlmodel import Session, SQLModel, col, select

from services.catalog.models import (
    REFERENCE_TABLES,
    AcademieFallback,
    CatalogMeta,
    CommuneRow,
    Formation,
    FormationGroupLink,
    FormationJob,
    FormationKeyword,
    InsertionResult,
    Job,
    JobTitle,
    Lycee,
    LyceeImage,
    LyceeSettings,
    MagicLinkToken,
    NafDivisionJob,
    NafSubclass,
    Offer,
    PartnerCompany,
    PfmpPeriod,
    ProfileEvent,
    Rbe,
    RbeCoverage,
    Referent,
)
from services.catalog.open_data import CatalogData
from shared.platform.db import table_of
from shared.reference.jobs.vocabulary import JobVocabulary

CHUNK = 5000
VOCABULARY_KEY = "job_vocabulary"


def _bulk_insert(session: Session, model: type[SQLModel], rows: Sequence[dict]) -> None:
    table = table_of(model)
    for start in range(0, len(rows), CHUNK):
        session.execute(insert(table), list(rows[start : start + CHUNK]))


def replace_reference_data(session: Session, data: CatalogData) -> None:
    """Swap every reference table for the freshly read data (one transaction, directory untouched)."""
    for model in reversed(REFERENCE_TABLES):
        session.execute(delete(model))
    _bulk_insert(session, Lycee, data.lycees)
    _bulk_insert(session, Formation, data.formations)
    _bulk_insert(session, Offer, data.offers)
    _bulk_insert(session, FormationGroupLink, data.groups)
    _bulk_insert(session, Job, data.jobs)
    _bulk_insert(session, JobTitle, data.job_titles)
    _bulk_insert(session, FormationJob, data.formation_jobs)
    _bulk_insert(session, FormationKeyword, data.keywords)
    _bulk_insert(session, NafSubclass, data.naf)
    _bulk_insert(session, NafDivisionJob, data.naf_jobs)
    _bulk_insert(session, InsertionResult, data.insertion)
    _bulk_insert(session, CommuneRow, data.communes)


def reference_counts(session: Session) -> dict[str, int]:
    def count(model, *where) -> int:
        return int(session.exec(select(func.count()).select_from(model).where(*where)).one())

    return {
        "lycées": count(Lycee), "formations": count(Formation), "offres": count(Offer), "métiers (ROME)": count(Job),
        "appellations": count(JobTitle, JobTitle.source == "appellation"),
        "métiers ONISEP": count(JobTitle, JobTitle.source == "onisep"), "communes": count(CommuneRow),
    }


# ------------------------------------------------------------------ meta / version
def get_meta(session: Session, key: str) -> str | None:
    row = session.get(CatalogMeta, key)
    return row.value if row else None


def set_meta(session: Session, key: str, value: str) -> None:
    row = session.get(CatalogMeta, key)
    if row is None:
        session.add(CatalogMeta(key=key, value=value))
    else:
        row.value = value
        session.add(row)


def set_vocabulary(session: Session, vocabulary: JobVocabulary) -> None:
    """The job vocabulary is one document derived from the reference data, stored beside it."""
    set_meta(session, VOCABULARY_KEY, vocabulary.model_dump_json())


def get_vocabulary(session: Session) -> JobVocabulary:
    raw = get_meta(session, VOCABULARY_KEY)
    return JobVocabulary.model_validate_json(raw) if raw else JobVocabulary()


def bump_version(session: Session) -> str:
    version = uuid.uuid4().hex[:16]
    set_meta(session, "version", version)
    return version


# ------------------------------------------------------------------ contacts (RBE directory)
def ensure_generic_contacts(session: Session, contacts: dict[str, str]) -> int:
    """Give every uncovered UAI its generic school address; never overrides a known RBE."""
    covered = set(session.exec(select(RbeCoverage.uai)).all())
    known = set(session.exec(select(Rbe.email)).all())
    new_rbes = sorted({email for uai, email in contacts.items() if uai not in covered} - known)
    _bulk_insert(session, Rbe, [{"email": e, "is_generic": True, "updated_at": datetime.now(UTC)} for e in new_rbes])
    rows = [{"uai": uai, "rbe_email": email} for uai, email in contacts.items() if uai not in covered]
    _bulk_insert(session, RbeCoverage, rows)
    return len(rows)


def get_rbe(session: Session, email: str) -> Rbe | None:
    return session.get(Rbe, email.strip().lower())


def upsert_rbe(session: Session, email: str, name: str | None, deputy_email: str | None) -> Rbe:
    rbe = session.get(Rbe, email)
    if rbe is None:
        rbe = Rbe(email=email)
    rbe.name = name
    rbe.is_generic = False
    rbe.deputy_email = deputy_email
    rbe.updated_at = datetime.now(UTC)
    session.add(rbe)
    return rbe


def assign_coverage(session: Session, email: str, uais: Iterable[str]) -> None:
    for uai in uais:
        row = session.get(RbeCoverage, uai)
        if row is None:
            session.add(RbeCoverage(uai=uai, rbe_email=email))
        else:
            row.rbe_email = email
            session.add(row)


def uais_of_rbe(session: Session, email: str) -> list[str]:
    return list(session.exec(select(RbeCoverage.uai).where(RbeCoverage.rbe_email == email).order_by(RbeCoverage.uai)).all())


def existing_uais(session: Session, uais: Iterable[str]) -> set[str]:
    wanted = list(set(uais))
    if not wanted:
        return set()
    return set(session.exec(select(Lycee.uai).where(col(Lycee.uai).in_(wanted))).all())


# ------------------------------------------------------------------ reads
def all_rows(session: Session, model: type[SQLModel]) -> list:
    return list(session.exec(select(model)).all())


def get_lycee(session: Session, uai: str) -> Lycee | None:
    return session.get(Lycee, uai)


def lycees_by_uai(session: Session, uais: Iterable[str]) -> list[Lycee]:
    wanted = list(set(uais))
    if not wanted:
        return []
    return list(session.exec(select(Lycee).where(col(Lycee.uai).in_(wanted)).order_by(Lycee.uai)).all())


def insertion_for(session: Session, uai: str) -> list[InsertionResult]:
    return list(session.exec(select(InsertionResult).where(InsertionResult.uai == uai)).all())


def get_settings_row(session: Session, uai: str) -> LyceeSettings | None:
    return session.get(LyceeSettings, uai)


def save_settings_row(session: Session, row: LyceeSettings) -> None:
    row.updated_at = datetime.now(UTC)
    session.add(row)


# ------------------------------------------------------------------ the richer profile (issue 22)
def pfmp_periods_of(session: Session, uai: str) -> list[PfmpPeriod]:
    return list(session.exec(select(PfmpPeriod).where(PfmpPeriod.uai == uai).order_by(col(PfmpPeriod.id))).all())


def events_of(session: Session, uai: str) -> list[ProfileEvent]:
    return list(session.exec(select(ProfileEvent).where(ProfileEvent.uai == uai)
                             .order_by(col(ProfileEvent.starts_on), col(ProfileEvent.id))).all())


def partners_of(session: Session, uai: str) -> list[PartnerCompany]:
    return list(session.exec(select(PartnerCompany).where(PartnerCompany.uai == uai)
                             .order_by(col(PartnerCompany.id))).all())


def add_row(session: Session, row: SQLModel) -> None:
    session.add(row)


def delete_owned(session: Session, model: type[PfmpPeriod] | type[ProfileEvent] | type[PartnerCompany],
                 uai: str, row_id: int) -> bool:
    """Delete one row of a lycée's profile; False when it is not that lycée's."""
    row = session.get(model, row_id)
    if row is None or getattr(row, "uai", None) != uai:
        return False
    session.delete(row)
    return True


def upcoming_event_rows(session: Session, since: date) -> list[ProfileEvent]:
    return list(session.exec(select(ProfileEvent).where(
        (col(ProfileEvent.starts_on) >= since) | (col(ProfileEvent.ends_on) >= since))).all())


def all_pfmp_rows(session: Session) -> list[PfmpPeriod]:
    return list(session.exec(select(PfmpPeriod).order_by(col(PfmpPeriod.uai), col(PfmpPeriod.id))).all())


def consented_partner_rows(session: Session) -> list[PartnerCompany]:
    return list(session.exec(select(PartnerCompany).where(col(PartnerCompany.consent_at).is_not(None))
                             .order_by(col(PartnerCompany.uai), col(PartnerCompany.id))).all())


def image_meta(session: Session) -> dict[str, tuple[str, str, int, int]]:
    """uai -> (kind, digest, width, height), without the bytes."""
    table = table_of(LyceeImage)
    rows = session.execute(sql_select(table.c.uai, table.c.kind, table.c.digest, table.c.width, table.c.height)).all()
    return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}


def get_image(session: Session, uai: str) -> LyceeImage | None:
    return session.get(LyceeImage, uai)


def save_image(session: Session, image: LyceeImage) -> None:
    row = session.get(LyceeImage, image.uai)
    if row is None:
        session.add(image)
        return
    for name in ("kind", "mime", "width", "height", "digest", "content"):
        setattr(row, name, getattr(image, name))
    row.updated_at = datetime.now(UTC)
    session.add(row)


def delete_image(session: Session, uai: str) -> bool:
    row = session.get(LyceeImage, uai)
    if row is not None:
        session.delete(row)
    return row is not None


def academie_fallbacks(session: Session) -> dict[str, str]:
    return {row.academie: row.email for row in session.exec(select(AcademieFallback)).all()}


def set_academie_fallback(session: Session, academie: str, email: str) -> None:
    row = session.get(AcademieFallback, academie)
    session.add(AcademieFallback(academie=academie, email=email) if row is None else row)
    if row is not None:
        row.email = email


# ------------------------------------------------------------------ académie referents
def academies(session: Session) -> list[str]:
    """Every académie the catalog's lycées name, sorted."""
    return sorted(a for a in session.exec(select(Lycee.academie).distinct()).all() if a)


def upsert_referent(session: Session, email: str, academie: str, name: str) -> None:
    row = session.get(Referent, email)
    if row is None:
        row = Referent(email=email, academie=academie, name=name)
    row.academie, row.name, row.updated_at = academie, name, datetime.now(UTC)
    session.add(row)


def get_referent(session: Session, email: str) -> Referent | None:
    return session.get(Referent, email.strip().lower())


def referents(session: Session) -> list[Referent]:
    return list(session.exec(select(Referent).order_by(Referent.academie, Referent.email)).all())


def academie_contact_owner(session: Session, email: str) -> str | None:
    """The académie whose generic contact (fallback) is ``email``, when that académie has no referent yet."""
    row = session.exec(select(AcademieFallback).where(AcademieFallback.email == email.strip().lower())).first()
    if row is None or session.exec(select(Referent).where(Referent.academie == row.academie)).first() is not None:
        return None
    return row.academie


def naf_label(session: Session, division: str) -> str | None:
    row = session.exec(select(NafSubclass).where(NafSubclass.division == division)).first()
    return row.division_label if row else None


# ------------------------------------------------------------------ magic links
def record_magic_link(session: Session, token_id: str, email: str) -> None:
    session.add(MagicLinkToken(token_id=token_id, email=email))


def magic_links_since(session: Session, email: str, since: datetime) -> int:
    """Links issued to ``email`` since ``since`` (the per-address limit)."""
    return session.execute(select(func.count()).select_from(MagicLinkToken).where(
        MagicLinkToken.email == email, MagicLinkToken.created_at >= since)).scalar_one()


def consume_magic_link(session: Session, token_id: str) -> str:
    """Mark the link used. Returns "ok", "unknown" (validly signed but never issued from this
    database) or "used" (a replay)."""
    row = session.get(MagicLinkToken, token_id)
    if row is None:
        return "unknown"
    if row.used_at is not None:
        return "used"
    row.used_at = datetime.now(UTC)
    session.add(row)
    return "ok"


# ------------------------------------------------------------- read model (whole tables, as plain tuples)
def offer_rows(session: Session) -> list[tuple]:
    return [tuple(r) for r in session.execute(select(Offer.uai, Offer.cfd, Offer.track, Offer.last_seen_year)).all()]


def formation_job_rows(session: Session) -> list[tuple[str, str, int]]:
    return [tuple(r) for r in session.execute(select(FormationJob.cfd, FormationJob.rome, FormationJob.rank)).all()]


def formation_keyword_rows(session: Session) -> list[tuple[str, str, float]]:
    return [tuple(r) for r in session.execute(
        select(FormationKeyword.cfd, FormationKeyword.keyword, FormationKeyword.score)).all()]


def naf_division_job_rows(session: Session) -> list[tuple[str, str]]:
    return [tuple(r) for r in session.execute(select(NafDivisionJob.division, NafDivisionJob.rome)).all()]


def job_title_rows(session: Session) -> list:
    return list(session.execute(select(JobTitle.label, JobTitle.rome, JobTitle.source)).all())
