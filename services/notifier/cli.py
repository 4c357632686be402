"""``monlyceepro reminders``: one pass of reminders and escalations (cron-friendly, idempotent)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from services.notifier.config import NotifierSettings
from services.notifier.migrations import SCHEMA
from services.notifier.service.mailer import NotifierContext
from services.notifier.tasks import reminder_pass
from shared.platform.db import make_engine
from shared.platform.migrations import check_schema


def reminders(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="monlyceepro reminders", description="Une passe de relances et d'escalades.")
    parser.add_argument("--now", help="date et heure de référence ISO 8601 (tests, rattrapage)", default=None)
    args = parser.parse_args(argv)
    if args.now:
        try:
            fixed = datetime.fromisoformat(args.now)
        except ValueError:
            parser.error("--now doit être une date ISO 8601, par exemple 2026-11-26T09:00:00+01:00")
        fixed = fixed if fixed.tzinfo else fixed.replace(tzinfo=UTC)
        clock = lambda: fixed  # noqa: E731
    else:
        clock = lambda: datetime.now(UTC)  # noqa: E731
    settings = NotifierSettings()
    engine = make_engine(settings.database_url_for("notifier"))
    check_schema(SCHEMA, engine, upgrade_empty=settings.env != "prod")
    counts = reminder_pass(engine, NotifierContext(settings=settings, clock=clock))
    print(f"Relances : {counts['reminder']}, escalades : {counts['expiry']}, "
          f"signalements à l'académie : {counts['give_up']}")
    engine.dispose()
    return 0


# The `monlyceepro` sub-commands this service brings (composed by services/cli.py).
COMMANDS = {"reminders": (reminders, "lancer une passe de relances/escalades")}
