"""Periodic jobs of intake (each one is a transaction boundary): data retention (requests, and the
contacts imported by campaigns)."""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy import Engine

from services.intake import metrics
from services.intake.campaigns.retention import erase_expired_contacts
from services.intake.config import IntakeSettings
from services.intake.service.retention import anonymise_expired
from shared.platform.clock import utcnow
from shared.platform.db import unit_of_work
from shared.platform.logging import get_logger, new_correlation_id
from shared.platform.service import ServiceRuntime

log = get_logger(__name__)


def run_retention(engine: Engine, settings: IntakeSettings) -> int:
    """Anonymise every request older than the retention period, batch by batch; returns the count."""
    total = 0
    correlation_id = new_correlation_id()
    while True:
        with unit_of_work(engine) as session:
            count = anonymise_expired(session, settings.retention_days, settings.retention_batch, correlation_id)
        total += count
        if count:
            metrics.REQUESTS_ERASED.labels("retention").inc(count)
        if count < settings.retention_batch:
            break
    if total:
        log.info("retention_anonymised", count=total, retention_days=settings.retention_days)
    return total


def run_contact_retention(engine: Engine, settings: IntakeSettings) -> int:
    """Erase the campaigns' contacts past their retention period, batch by batch; returns the count."""
    total = 0
    while True:
        with unit_of_work(engine) as session:
            count = erase_expired_contacts(session, settings.campaign_contact_retention_days,
                                           settings.retention_batch, utcnow())
        total += count
        if count < settings.retention_batch:
            break
    if total:
        log.info("campaign_contacts_erased", count=total, retention_days=settings.campaign_contact_retention_days)
    return total


def retention_task(settings: IntakeSettings):
    async def retention_loop(runtime: ServiceRuntime) -> None:
        while True:
            with contextlib.suppress(Exception):
                if await runtime.run_db(run_retention, runtime.engine, settings):
                    runtime.relay.wake()
            with contextlib.suppress(Exception):
                await runtime.run_db(run_contact_retention, runtime.engine, settings)
            await asyncio.sleep(settings.retention_interval_s)

    return retention_loop
