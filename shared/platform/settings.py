"""One settings model for every service (env prefix ``MLP_``).

Fails fast outside dev/test when the secret key is a placeholder: a signed reply
address or magic link made with a public key would let anyone forge them.
"""

from __future__ import annotations

import os
import socket
from functools import lru_cache
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.platform.redis_conn import check_redis_url

PROJECT_ROOT = Path(__file__).resolve().parents[2]

SERVICE_PORTS: dict[str, int] = {"intake": 8001, "catalog": 8002, "matcher": 8003, "notifier": 8004}
SERVICES: tuple[str, ...] = tuple(SERVICE_PORTS)

PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "secret", "dev-secret-key-not-for-production"}
DEV_SECRET = "dev-secret-key-not-for-production"


S = TypeVar("S", bound="Settings")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MLP_", env_file=".env", extra="ignore")

    env: Literal["dev", "test", "prod"] = "dev"
    # redis://, or rediss:// (TLS) with an ACL user: rediss://user:password@host:6380/0, and
    # ?ssl_ca_certs=/path/ca.pem for a private CA (shared/platform/redis_conn.py).
    redis_url: str = "redis://127.0.0.1:6379/0"
    # ``{service}`` is replaced by the service name, so one URL gives each service its own database.
    # PostgreSQL: postgresql://user:password@host:5432/mlp_{service}?sslmode=verify-full&sslrootcert=/path/ca.pem
    # (any libpq parameter in the query: sslmode, sslrootcert, sslcert, sslkey, connect_timeout…).
    database_url: str = "sqlite:///{var_dir}/{service}.db"
    smtp_url: str = "smtp://127.0.0.1:1025"
    public_base_url: str = "http://127.0.0.1:8001"
    catalog_public_url: str = "http://127.0.0.1:8002"
    catalog_url: str = "http://127.0.0.1:8002"
    intake_url: str = "http://127.0.0.1:8001"
    # The catalog's referent back-office reads and acts through the matcher's and the notifier's admin APIs
    # (internal addresses; MLP_NOTIFIER_URL is the notifier's public one, for the links in emails).
    matcher_url: str = "http://127.0.0.1:8003"
    notifier_api_url: str = "http://127.0.0.1:8004"
    secret_key: str = DEV_SECRET
    # Bearer token for admin endpoints (RBE import, review queue). None = admin API disabled.
    admin_token: str | None = None
    # Pilot académies (issue 20): names or codes as the catalog spells them, comma-separated; empty =
    # everywhere. Checked at startup against data/territoires.csv. `monlyceepro pilot` changes the live
    # value (Redis key mlp:pilot:academies) without restart; services read it every pilot_refresh_s.
    pilot_academies: str = ""
    pilot_refresh_s: float = Field(default=2.0, gt=0)
    # Fallback contact when no lycée is relevant and the académie has none configured; also the national
    # team that receives requests from outside the pilot when their académie has no contact.
    fallback_email: str = "referent-entreprises@monlyceepro.localhost"
    mail_from: str = "MonLycéePro <ne-pas-repondre@monlyceepro.localhost>"

    var_dir: Path = PROJECT_ROOT / "var"
    data_dir: Path = PROJECT_ROOT / "data"

    # Streams
    stream_maxlen: int = 100_000
    max_deliveries: int = 5
    claim_idle_ms: int = 30_000
    # How long a consumer's XREADGROUP waits for an entry. An entry ends the wait at once, so this only sets
    # how often an idle consumer asks again: at 100 ms the four services at rest used 55–92 ms of CPU per
    # second, at 1 000 ms 43–57 (docs/benchmarks-changelog.md, B50).
    polling_interval_ms: int = 1000
    # A service's event loop shares the GIL with its database threads; Python's default 5 ms switch
    # interval let one transaction hold up every ready socket that long (A/B runs at 50 req/s:
    # lower end-to-end p95 with 1 ms, docs/benchmarks.md).
    gil_switch_interval_s: float = Field(default=0.001, gt=0, le=0.1)
    # Stable across restarts so a restarted consumer finds its own pending entries again.
    instance: str = Field(default_factory=lambda: os.environ.get("HOSTNAME") or socket.gethostname())

    # SQLite only: the hottest writes (intake's accepted requests, the outbox relay's lease) run on the event
    # loop when the write lock is free at once, on a database thread otherwise (shared/platform/db_threads.py).
    sqlite_inline_writes: bool = True

    # Outbox relay
    relay_enabled: bool = True
    relay_interval_s: float = 0.5  # safety poll; commits wake the relay at once
    relay_batch: int = 200

    # Purge of the backbone's bookkeeping (shared.platform.housekeeping)
    outbox_keep_days: int = Field(default=7, ge=1)  # published rows only
    processed_keep_days: int = Field(default=30, ge=1)
    housekeeping_interval_s: float = Field(default=3600.0, gt=0)
    # Retention of the Redis streams (shared.platform.stream_retention): entries every group has handled
    stream_keep_days: int = Field(default=7, ge=1)
    deadletter_keep_days: int = Field(default=30, ge=1)

    # Logging
    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("redis_url")
    @classmethod
    def _redis_url_scheme(cls, value: str) -> str:
        return check_redis_url(value)

    @model_validator(mode="after")
    def _known_pilot_academies(self) -> Settings:
        if self.pilot_academies.strip():
            from shared.reference.pilot import parse_pilot_from_data  # geo imports this module

            pilot = parse_pilot_from_data(self.pilot_academies, self.data_dir)  # UnknownAcademie: a ValueError
            self.pilot_academies = pilot.as_text()
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.env == "prod" and (self.secret_key in PLACEHOLDER_SECRETS or len(self.secret_key) < 32):
            raise ValueError(
                "MLP_SECRET_KEY est absent ou est une valeur d'exemple : en production, donnez une clé "
                "aléatoire d'au moins 32 caractères (ex. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)."
            )
        return self

    @classmethod
    def from_any(cls: type[S], settings: Settings | None = None) -> S:
        """The one way a composition root gets its service's settings: the given ones (a base Settings is
        widened to the service's class, its fields kept), or the environment's when none is given."""
        if settings is None:
            return cls()
        if isinstance(settings, cls):
            return settings
        return cls(**settings.model_dump())

    def database_url_for(self, service: str) -> str:
        return self.database_url.format(service=service, var_dir=self.var_dir)

    def consumer_name(self, service: str) -> str:
        return f"{service}-{self.instance}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
