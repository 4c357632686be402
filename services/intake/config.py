"""Intake's own settings: anti-abuse limits and data retention (same ``MLP_`` prefix)."""

from __future__ import annotations

from functools import lru_cache

from shared.platform.settings import Settings


class IntakeSettings(Settings):
    # Anti-abuse. Counted without Redis: intake must accept requests while Redis is down.
    rate_limit_ip: int = 30  # POST attempts per client IP per window (in-process memory)
    rate_limit_ip_window_s: int = 600
    rate_limit_email: int = 5  # accepted requests per contact email per window (counted in the database)
    rate_limit_email_window_s: int = 3600
    min_fill_seconds: float = 3.0  # a human needs more than this to fill the form
    max_form_age_s: int = 86_400  # a form token older than this is refused (re-displayed)
    max_body_bytes: int = 64 * 1024
    max_links_in_message: int = 3
    trust_forwarded_for: bool = False  # behind a trusted reverse proxy only
    # Requests accepted at the same moment share one transaction (group commit), up to this many.
    accept_batch_max: int = 64

    # Personal data
    retention_days: int = 1095  # 3 years
    retention_interval_s: float = 3600.0
    retention_batch: int = 500

    # Invitation campaigns (services/intake/campaigns, docs/campaigns.md)
    # An imported contact's personal data is erased this long after its last invitation (or its
    # import, if it was never invited), whether or not the company answered.
    campaign_contact_retention_days: int = 183
    campaign_rate_per_min: float = 60.0  # invitations per minute (`campaign send --rate`)
    campaign_lease_s: float = 120.0  # a row being sent is someone's for this long (kill -9: then uncertain)
    campaign_max_attempts: int = 5  # tries of an invitation the SMTP server refuses with a 4xx
    campaign_retry_base_s: float = 60.0  # first retry after a 4xx, doubled at each try
    campaign_retry_wait_s: float = 300.0  # `campaign send` waits for retries due within this delay
    # Key of the unsubscribed addresses' hashes (HMAC-SHA256); the secret key when unset. Never change
    # it once addresses are unsubscribed: their hashes would no longer match, and they would be invited again.
    campaign_hash_key: str | None = None
    # Partners (services/intake/partners, docs/partners.md)
    partner_key_secret: str = ""  # HMAC key of the partners' API keys; empty: derived from MLP_SECRET_KEY
    partner_rate_limit: int = 120  # API calls per partner key per window (in-process memory, per instance)
    partner_rate_limit_window_s: int = 60
    partner_refresh_s: float = 30.0  # how often the partners' origins (CORS) are reloaded from the database

    # Outbound HTTP (autocomplete proxy, optional routing preview)
    catalog_timeout_s: float = 1.5


@lru_cache
def get_intake_settings() -> IntakeSettings:
    return IntakeSettings()
