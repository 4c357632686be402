"""Tables of the catalog service: reference data loaded from data/ and the RBE directory."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.platform.clock import utcnow
from shared.platform.mailing import MailingFields, mailing_indexes


# ------------------------------------------------------------------ reference data (loader)
class Lycee(SQLModel, table=True):
    __tablename__ = "catalog_lycee"

    uai: str = Field(primary_key=True, max_length=8)
    name: str
    nature_code: str = ""
    type_court: str = ""
    secteur: str = "public"
    contrat_prive: str = ""
    ministere: str = ""
    address: str = ""
    postal_code: str = ""
    commune_insee: str = ""
    commune: str = ""
    departement_code: str = ""
    departement: str = ""
    academie_code: str = ""
    academie: str = ""
    region_code: str = ""
    region: str = ""
    latitude: float | None = None
    longitude: float | None = None
    voie_professionnelle: bool = False
    apprentissage: bool = False
    parent_uai: str | None = Field(default=None, max_length=8)
    rattachement: str = ""
    telephone: str = ""
    mail: str = ""
    web: str = ""
    fiche_onisep: str = ""
    formations_uai: str | None = Field(default=None, max_length=8)
    source_annuaire: str = ""
    private_hors_contrat: bool = False
    bts_only: bool = False
    vocational_core: bool = False
    territory: str = ""


class Formation(SQLModel, table=True):
    __tablename__ = "catalog_formation"

    cfd: str = Field(primary_key=True, max_length=8)
    diploma: str = ""
    diploma_label: str = ""
    level: int | None = None
    label: str = ""
    label_long: str = ""
    secteur_cpc: str = ""
    groupe_specialite: str = ""
    opened_on: date | None = None
    closed_on: date | None = None
    successor_cfds: str = ""  # ";"-separated
    closed: bool = False


class Offer(SQLModel, table=True):
    """One row of lycee_formations.csv: a lycée teaches a formation on a track."""

    __tablename__ = "catalog_offer"
    __table_args__ = (UniqueConstraint("uai", "cfd", "track", name="uq_catalog_offer"),)

    id: int | None = Field(default=None, primary_key=True)
    uai: str = Field(index=True, max_length=8)
    cfd: str = Field(max_length=8)
    track: str = Field(max_length=16)  # scolaire / apprentissage
    last_seen_year: int | None = None
    capacity: int | None = None
    sources: str = ""


class FormationGroupLink(SQLModel, table=True):
    """BCN groups: a "2nde commune" code (tronc_commun) and the specialities it leads to."""

    __tablename__ = "catalog_formation_group"

    id: int | None = Field(default=None, primary_key=True)
    group_code: str = Field(index=True, max_length=8)
    group_label: str = ""
    cfd: str = Field(max_length=8)
    role: str = Field(max_length=16)


class Job(SQLModel, table=True):
    """A ROME fiche (job family)."""

    __tablename__ = "catalog_job"

    rome: str = Field(primary_key=True, max_length=5)
    label: str
    domain_code: str = ""
    domain: str = ""
    grand_domain_code: str = ""
    grand_domain: str = ""


class JobTitle(SQLModel, table=True):
    """A job title as companies or families write it: ROME appellation or ONISEP job name."""

    __tablename__ = "catalog_job_title"

    id: int | None = Field(default=None, primary_key=True)
    label: str
    rome: str = Field(index=True, max_length=5)
    source: str = Field(max_length=12)  # appellation / onisep


class FormationJob(SQLModel, table=True):
    __tablename__ = "catalog_formation_job"

    id: int | None = Field(default=None, primary_key=True)
    cfd: str = Field(index=True, max_length=8)
    rome: str = Field(max_length=5)
    rank: int = 1


class FormationKeyword(SQLModel, table=True):
    __tablename__ = "catalog_formation_keyword"

    id: int | None = Field(default=None, primary_key=True)
    cfd: str = Field(index=True, max_length=8)
    keyword: str
    score: float = 0.0


class NafSubclass(SQLModel, table=True):
    __tablename__ = "catalog_naf"

    code: str = Field(primary_key=True, max_length=6)
    label: str
    division: str = Field(max_length=2)
    division_label: str = ""


class NafDivisionJob(SQLModel, table=True):
    __tablename__ = "catalog_naf_division_job"

    id: int | None = Field(default=None, primary_key=True)
    division: str = Field(index=True, max_length=2)
    rome: str = Field(max_length=5)


class InsertionResult(SQLModel, table=True):
    __tablename__ = "catalog_insertion"

    id: int | None = Field(default=None, primary_key=True)
    uai: str = Field(index=True, max_length=8)
    millesime: str = Field(max_length=9)
    population: str = Field(max_length=12)
    employment_rate_6m: float | None = None
    expected_employment_rate_6m: float | None = None
    added_value: float | None = None
    further_studies_rate: float | None = None


class CommuneRow(SQLModel, table=True):
    __tablename__ = "catalog_commune"

    id: int | None = Field(default=None, primary_key=True)
    insee: str = Field(index=True, max_length=5)
    name: str
    postal_code: str = Field(default="", max_length=5)
    departement: str = Field(max_length=3)
    latitude: float | None = None
    longitude: float | None = None


# ------------------------------------------------------------------ directory and self-service
class Rbe(SQLModel, table=True):
    """A contact covering one or more UAIs: a named RBE, or a school's generic address."""

    __tablename__ = "catalog_rbe"

    email: str = Field(primary_key=True, max_length=254)  # lower-cased; also the stable rbe_id
    name: str | None = None
    is_generic: bool = True
    deputy_email: str | None = Field(default=None, max_length=254)
    absent_from: date | None = None
    absent_until: date | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class RbeCoverage(SQLModel, table=True):
    __tablename__ = "catalog_rbe_coverage"

    uai: str = Field(primary_key=True, max_length=8)
    rbe_email: str = Field(index=True, max_length=254)


class LyceeSettings(SQLModel, table=True):
    """What a lycée tells companies: pitch, services, PFMP periods, monthly capacity."""

    __tablename__ = "catalog_lycee_settings"

    uai: str = Field(primary_key=True, max_length=8)
    pitch: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    services: str = ""  # ";"-separated NeedType values
    pfmp_periods: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    monthly_capacity: int | None = None
    updated_at: datetime = Field(default_factory=utcnow)
    # The richer profile (issue 22): each part optional, shown publicly only when filled.
    pitch_origin: str = Field(default="", max_length=12)  # "lycee"; "brouillon": the draft, saved unchanged
    platforms: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # one per line
    label_lycee_metiers: str = Field(default="", max_length=200)  # its title: « Lycée des métiers de … »
    label_cmq: str = Field(default="", max_length=200)  # name of the campus des métiers et des qualifications
    networks: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # one per line


class PfmpPeriod(SQLModel, table=True):
    """When one class of the lycée is in PFMP (work placement), as the RBE typed it and as day ranges."""

    __tablename__ = "catalog_pfmp_period"

    id: int | None = Field(default=None, primary_key=True)
    uai: str = Field(index=True, max_length=8)
    classe: str = Field(max_length=16)  # a code of services.catalog.service.profile.CLASSES: 2de, 1re, tle…
    cfd: str | None = Field(default=None, max_length=8)  # one formation of the lycée, or all of that class
    dates: str = Field(max_length=200)  # as typed: « du 2 au 27 mars »
    ranges: str = Field(max_length=200)  # shared.reference.periods.Period.code(): « 03-02/03-27 »


class ProfileEvent(SQLModel, table=True):
    """A dated event open to companies: job dating, open day, forum, jury."""

    __tablename__ = "catalog_event"

    id: int | None = Field(default=None, primary_key=True)
    uai: str = Field(index=True, max_length=8)
    kind: str = Field(max_length=16)
    title: str = Field(max_length=120)
    starts_on: date = Field(index=True)
    ends_on: date | None = None
    details: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class PartnerCompany(SQLModel, table=True):
    """A company the lycée works with; shown publicly only once the RBE records its consent."""

    __tablename__ = "catalog_partner"

    id: int | None = Field(default=None, primary_key=True)
    uai: str = Field(index=True, max_length=8)
    name: str = Field(max_length=120)
    consent_at: datetime | None = None


class LyceeImage(SQLModel, table=True):
    """The lycée's logo or photo, re-encoded (no metadata) and resized at upload."""

    __tablename__ = "catalog_lycee_image"

    uai: str = Field(primary_key=True, max_length=8)
    kind: str = Field(max_length=8)  # logo / photo
    mime: str = Field(max_length=20)
    width: int
    height: int
    digest: str = Field(max_length=16)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)


class AcademieFallback(SQLModel, table=True):
    __tablename__ = "catalog_academie_fallback"

    academie: str = Field(primary_key=True, max_length=80)
    email: str = Field(max_length=254)


class Referent(SQLModel, table=True):
    """An académie's *référent entreprises* (``monlyceepro import-referents``): works the back-office of
    their académie only. Until an académie has one, its generic contact (``AcademieFallback``) stands in."""

    __tablename__ = "catalog_referent"

    email: str = Field(primary_key=True, max_length=254)  # lower-cased
    academie: str = Field(index=True, max_length=80)  # as the catalog's lycées spell it
    name: str = Field(max_length=200)
    updated_at: datetime = Field(default_factory=utcnow)


class MagicLinkToken(SQLModel, table=True):
    """Issued magic links; ``used_at`` makes each one single-use."""

    __tablename__ = "catalog_magic_link"
    __table_args__ = (Index("ix_catalog_magic_link_email", "email"),)

    token_id: str = Field(primary_key=True, max_length=40)
    email: str = Field(max_length=254)
    created_at: datetime = Field(default_factory=utcnow)
    used_at: datetime | None = None


# ------------------------------------------------------------------ naming the RBE (issue 22)
INVITE_MAILING = "rbe-invite"  # invitations and reminders to the lycées' official addresses (the CLI sends them)
CONFIRM_MAILING = "rbe-confirm"  # confirmation links and notices to replaced RBEs (the service sends them)


class RbeMail(MailingFields, table=True):
    """One email of the RBE naming flow (a ``shared.platform.mailing`` table). ``mailing`` is
    ``rbe-invite`` (invitations and reminders to the lycée's official address, sent by the CLI) or
    ``rbe-confirm`` (confirmation links to named RBEs, notices to replaced ones, sent by the service)."""

    __tablename__ = "catalog_rbe_mail"
    __table_args__ = (*mailing_indexes("catalog_rbe_mail"),
                      UniqueConstraint("uai", "kind", "ref", name="uq_catalog_rbe_mail_key"))

    uai: str = Field(max_length=8)
    academie: str = Field(default="", max_length=80)
    kind: str = Field(max_length=16)  # invitation | relance-7 | relance-21 | confirmation | remplace
    ref: str = Field(max_length=40)  # invitation round (« 1 », « 2 »…) or the nomination id


class RbeNomination(SQLModel, table=True):
    """An RBE named by the lycée (naming page) or by an académie's list (``import-rbe``); routes
    requests only once confirmed by the magic link sent to their own address."""

    __tablename__ = "catalog_rbe_nomination"
    __table_args__ = (Index("ix_catalog_rbe_nomination_uai", "uai", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    uai: str = Field(max_length=8)
    batch: str = Field(max_length=32)  # one submission of the naming form (or one import line)
    email: str = Field(max_length=254)  # lower-cased
    name: str = Field(max_length=200)
    role: str = Field(default="", max_length=120)
    source: str = Field(default="lycee", max_length=8)  # lycee | import
    # An académie's list may give the RBE's deputy: kept here until the RBE confirms, then in the directory.
    deputy_email: str | None = Field(default=None, max_length=254)
    status: str = Field(default="pending", max_length=10)  # pending | confirmed | replaced | withdrawn
    created_at: datetime = Field(default_factory=utcnow)
    confirmed_at: datetime | None = None


class CatalogMeta(SQLModel, table=True):
    __tablename__ = "catalog_meta"

    key: str = Field(primary_key=True, max_length=40)
    value: str = ""


REFERENCE_TABLES: tuple[type[SQLModel], ...] = (
    Lycee, Formation, Offer, FormationGroupLink, Job, JobTitle, FormationJob, FormationKeyword,
    NafSubclass, NafDivisionJob, InsertionResult, CommuneRow,
)
DIRECTORY_TABLES: tuple[type[SQLModel], ...] = (
    Rbe, RbeCoverage, LyceeSettings, AcademieFallback, Referent, MagicLinkToken, CatalogMeta,
    PfmpPeriod, ProfileEvent, PartnerCompany, LyceeImage, RbeMail, RbeNomination,
)
ALL_TABLES: tuple[type[SQLModel], ...] = REFERENCE_TABLES + DIRECTORY_TABLES
