"""The catalog's boundaries for work outside HTTP: loading the open data (CLI, `monlyceepro up`, tests) and
importing the RBE directory (CLI and admin API). Each commits once."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from pathlib import Path

from sqlalchemy import Engine, func
from sqlmodel import Session

from services.catalog import naming_repository as naming_repo
from services.catalog import repository as repo
from services.catalog.models import RbeMail
from services.catalog.open_data import fingerprint, generic_contacts, read_catalog
from services.catalog.service.directory import ImportReport, import_rbe_rows
from services.catalog.service.rbe_mailings import RbeMailComposer, plan_invitations, plan_reminders
from services.catalog.service.rbe_naming import nominate_import
from services.catalog.service.referents import import_referent_rows
from services.catalog.service.vocabulary import build_vocabulary
from shared.contracts.events import CatalogChanged
from shared.platform.clock import utcnow
from shared.platform.db import table_of, unit_of_work
from shared.platform.mailing import LeasedMailer, MailingReport
from shared.platform.outbox import add_to_outbox
from shared.platform.settings import Settings, get_settings


@dataclass
class LoadResult:
    changed: bool
    counts: dict[str, int]
    generic_contacts_added: int = 0


def load_catalog_into(engine: Engine, data_dir: Path, force: bool = False) -> LoadResult:
    """Idempotent: when the data files are unchanged since the last load, nothing is written."""
    digest = fingerprint(data_dir)
    with unit_of_work(engine) as session:
        if not force and repo.get_meta(session, "data_fingerprint") == digest:
            return LoadResult(changed=False, counts=repo.reference_counts(session))
    data = read_catalog(data_dir)
    vocabulary = build_vocabulary(data_dir)
    with unit_of_work(engine) as session:
        repo.replace_reference_data(session, data)
        repo.set_vocabulary(session, vocabulary)
        added = repo.ensure_generic_contacts(session, generic_contacts(data.lycees))
        repo.set_meta(session, "data_fingerprint", digest)
        repo.bump_version(session)
        add_to_outbox(session, CatalogChanged(correlation_id=f"load-{uuid.uuid4().hex[:12]}", uais=[], change="reload"))
    return LoadResult(changed=True, counts=data.counts(), generic_contacts_added=added)


def import_rbe_csv(engine: Engine, content: str, correlation_id: str, confirmed: bool = False,
                   settings: Settings | None = None) -> ImportReport:
    """The académie's list of RBEs: each RBE confirms by the link sent to their address before requests go to
    them (``confirmed``: the académie already verified them, they route at once)."""
    settings = settings or get_settings()
    domain, now = mail_domain(settings), utcnow()

    def nominate(session: Session, email: str, name: str, uais: list[str], deputy: str | None) -> None:
        nominate_import(session, email, name, uais, now=now, mail_domain=domain, deputy_email=deputy)

    with unit_of_work(engine) as session:
        return import_rbe_rows(session, content, correlation_id, None if confirmed else nominate)


def import_referents_csv(engine: Engine, content: str, correlation_id: str) -> ImportReport:
    with unit_of_work(engine) as session:
        return import_referent_rows(session, content, correlation_id)


# ------------------------------------------------------------------ the RBE naming mailings (issue 22)
def mail_domain(settings: Settings) -> str:
    return parseaddr(settings.mail_from)[1].rpartition("@")[2] or "monlyceepro.localhost"


def plan_rbe_invitations(engine: Engine, settings: Settings, academie: str | None, again: bool,
                         now: datetime | None = None) -> int:
    with unit_of_work(engine) as session:
        return plan_invitations(session, now or utcnow(), mail_domain(settings), academie, again)


def plan_rbe_reminders(engine: Engine, settings: Settings, academie: str | None,
                       now: datetime | None = None) -> dict[str, int]:
    with unit_of_work(engine) as session:
        return plan_reminders(session, now or utcnow(), mail_domain(settings), academie)


def rbe_mailer(engine: Engine, settings: Settings, mailing: str, *, academie: str | None = None,
               rate_per_min: float | None = None, clock: Callable[[], datetime] = utcnow,
               progress: Callable[[MailingReport], None] | None = None, lease_s: float = 120.0) -> LeasedMailer:
    """The leased, at-most-once sender of one naming mailing (``INVITE_MAILING`` or ``CONFIRM_MAILING``)."""
    table = table_of(RbeMail)
    scope = func.lower(table.c.academie) == academie.strip().lower() if academie else None
    composer = RbeMailComposer(settings.secret_key, settings.catalog_public_url.rstrip("/"), settings.mail_from)
    return LeasedMailer(engine, table, mailing, composer, smtp_url=settings.smtp_url, rate_per_min=rate_per_min,
                        scope=scope, clock=clock, progress=progress, lease_s=lease_s, max_attempts=5,
                        retry_base_s=60.0)


NAMING_RETENTION_DAYS = 400  # a school year and its reminders, plus the time to answer a question about them


def purge_rbe_naming(engine: Engine, now: datetime | None = None) -> tuple[int, int]:
    """(nominations deleted, email addresses erased) older than ``NAMING_RETENTION_DAYS``."""
    with unit_of_work(engine) as session:
        return naming_repo.purge_before(session, (now or utcnow()) - timedelta(days=NAMING_RETENTION_DAYS))


def rbe_invite_status(engine: Engine, academie: str | None) -> tuple[list[tuple[str, str, int]], dict[str, int]]:
    with Session(engine) as session:
        return naming_repo.invite_status(session, academie), naming_repo.nomination_counts(session)
