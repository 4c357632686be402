from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.notifier.config import NotifierSettings
from services.notifier.migrations import SCHEMA as NOTIFIER_SCHEMA
from services.notifier.service.mailer import NotifierContext
from shared.platform.db import make_engine
from shared.platform.migrations import upgrade
from tests.support.clock import FakeClock
from tests.support.servers import free_port


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))  # a Monday


@pytest.fixture
def settings(sink, tmp_path) -> NotifierSettings:
    return NotifierSettings(
        env="test", smtp_url=sink.url, inbound_smtp_port=free_port(), var_dir=tmp_path,
        notifier_url="http://notifier.test", send_quick_retries=1, send_retry_base_s=0.05, send_retry_max_s=0.2,
        max_send_attempts=3,
    )


@pytest.fixture
def engine(database_url):
    eng = make_engine(database_url)
    upgrade(NOTIFIER_SCHEMA, eng)
    yield eng
    eng.dispose()


@pytest.fixture
def ctx(settings, clock) -> NotifierContext:
    return NotifierContext(settings=settings, clock=clock)
