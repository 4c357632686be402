"""Notifier settings: shared settings plus the knobs of mail sending, inbound mail and reminders."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from shared.platform.settings import Settings


class NotifierSettings(Settings):
    # Where the notifier's one-click action links point (its own public pages)
    notifier_url: str = "http://127.0.0.1:8004"

    # Outbound
    max_send_attempts: int = 10  # after that many failures a send row is dead-lettered
    send_retry_base_s: float = 5.0  # backoff between attempts: base * 2**attempts, capped
    send_retry_max_s: float = 3600.0
    send_quick_retries: int = 3  # tries within a pass when the SMTP connection breaks (0.2 s, 0.4 s... apart)
    send_poll_s: float = 5.0  # safety net only: commits wake the sender, and it sleeps until the next retry
    send_batch_size: int = 64  # rows leased (and recorded) per transaction
    send_concurrency: int = 6  # parallel sends, each on its own kept-open SMTP connection
    send_pause_s: float = 0.0  # pause between two sends (throttling; tests use it to kill between sends)
    send_lease_s: float = 120.0  # a row being sent is leased, so two instances never send it together
    smtp_timeout_s: float = 15.0

    # Inbound: the SMTP server RBEs and companies reply to, and the domain of the reply addresses
    inbound_enabled: bool = True
    inbound_smtp_host: str = "127.0.0.1"
    inbound_smtp_port: int = 2525
    reply_domain: str = "reponse.monlyceepro.localhost"
    inbound_max_bytes: int = 15 * 1024 * 1024
    attachment_max_bytes: int = 5 * 1024 * 1024  # total relayed with one reply
    list_id: str = "Demandes MonLycéePro <demandes.monlyceepro.localhost>"
    # Who really sent a reply: DKIM/SPF/alignment checks (service/authentication.py); off = From alone
    inbound_auth_checks: bool = True
    inbound_dns_timeout_s: float = Field(default=3.0, gt=0, le=30)  # per DNS query of those checks

    # One-click actions
    action_ttl_days: int = 30

    # Outcomes (« Qu'est-ce qui en est sorti ? »): asked this long after a request was taken, once more this
    # long after « rien pour l'instant »; a pass that comes later than the window after that asks nothing
    # (an old thread is not asked about on a first deployment)
    outcome_delay_days: int = Field(default=30, ge=1, le=365)
    outcome_again_days: int = Field(default=60, ge=1, le=365)
    outcome_window_days: int = Field(default=30, ge=1, le=365)
    outcome_link_ttl_days: int = Field(default=90, ge=1, le=365)

    # Reminders and escalation
    reminder_working_days: int = 3
    escalation_working_days: int = 7
    give_up_days: int = 21
    working_weekdays: str = "0,1,2,3,4"  # Monday=0
    french_holidays: bool = True
    timezone: str = "Europe/Paris"
    reminders_interval_s: float = 300.0

    @property
    def weekdays(self) -> frozenset[int]:
        return frozenset(int(d) for d in self.working_weekdays.split(",") if d.strip())


@lru_cache
def get_notifier_settings() -> NotifierSettings:
    return NotifierSettings()
