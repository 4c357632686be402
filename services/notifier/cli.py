"""``monlyceepro reminders``: one pass of reminders and escalations, then of outcome questions (« Qu'est-ce qui
en est sorti ? »), like the periodic task (cron-friendly, idempotent)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from services.notifier.config import NotifierSettings
from services.notifier.migrations import SCHEMA
from services.notifier.service.mailer import NotifierContext
from services.notifier.tasks import outcome_pass, reminder_pass
from shared.platform.db import make_engine
from shared.platform.migrations import check_schema


def reminders(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="monlyceepro reminders", description="Une passe de relances et d'escalades, puis des questions « Qu'est-ce qui en est sorti ? ».")
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
    ctx = NotifierContext(settings=settings, clock=clock)
    counts = reminder_pass(engine, ctx)
    asked = outcome_pass(engine, ctx)
    print(f"Relances : {counts['reminder']}, escalades : {counts['expiry']}, "
          f"signalements à l'académie : {counts['give_up']}, "
          f"questions « Qu'est-ce qui en est sorti ? » : {asked['asked']} (dont reposées : {asked['asked_again']})")
    engine.dispose()
    return 0


# The `monlyceepro` sub-commands this service brings (composed by services/cli.py).
COMMANDS = {"reminders": (reminders, "lancer une passe de relances/escalades et de questions sur les suites")}
