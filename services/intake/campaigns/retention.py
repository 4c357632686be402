"""Imported contacts are erased ``MLP_CAMPAIGN_CONTACT_RETENTION_DAYS`` after their last invitation
(or their import, when never invited): run by intake's retention job (services/intake/tasks.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from services.intake.campaigns import repository


def erase_expired_contacts(session: Session, retention_days: int, batch: int, now: datetime) -> int:
    """One batch; returns how many contacts were erased."""
    ids = repository.expired_contact_ids(session, now - timedelta(days=retention_days), batch)
    repository.erase_contacts(session, ids, "retention", now)
    return len(ids)
