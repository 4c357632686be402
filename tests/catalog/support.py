"""What the catalog tests share besides fixtures: the settings of a test app and its admin token."""

from __future__ import annotations

from shared.platform.settings import Settings

ADMIN_TOKEN = "jeton-admin-de-test"


def catalog_settings(database_url: str, redis_url: str = "redis://127.0.0.1:1/0", **extra) -> Settings:
    return Settings(env="test", database_url=database_url, redis_url=redis_url, relay_enabled=False,
                    admin_token=ADMIN_TOKEN, secret_key="cle-de-test-suffisamment-longue-0123456789", **extra)
