"""The ``monlyceepro`` console command: the composition of every service's own sub-commands.

It lives beside the services, not in ``shared/``, because it knows them all; each service keeps its
commands in its own ``cli.py`` (``COMMANDS``) and this module only dispatches.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from shared.platform.settings import SERVICE_PORTS, SERVICES, get_settings

if TYPE_CHECKING:
    from shared.platform.migrations import ServiceSchema

Command = tuple[Callable[[list[str]], int], str]

# The services' own commands and migration histories are imported by the commands that use them, not at
# start: `monlyceepro serve NAME` then holds one service's modules, not the four (issue 18: memory at rest).


@cache
def service_commands() -> dict[str, Command]:
    """Sub-commands implemented by a service, each taking its own argv."""
    from services.catalog import cli as catalog_cli
    from services.intake import cli as intake_cli
    from services.matcher import cli as matcher_cli
    from services.notifier import cli as notifier_cli

    return {**catalog_cli.COMMANDS, **matcher_cli.COMMANDS, **intake_cli.COMMANDS, **notifier_cli.COMMANDS}


@cache
def schemas() -> dict[str, ServiceSchema]:
    """Each service database's migration history (services/<name>/migrations/), in start order."""
    from services.catalog.migrations import SCHEMA as CATALOG_SCHEMA
    from services.intake.migrations import SCHEMA as INTAKE_SCHEMA
    from services.matcher.migrations import SCHEMA as MATCHER_SCHEMA
    from services.notifier.migrations import SCHEMA as NOTIFIER_SCHEMA

    return {schema.service: schema for schema in (CATALOG_SCHEMA, INTAKE_SCHEMA, MATCHER_SCHEMA, NOTIFIER_SCHEMA)}


def __getattr__(name: str) -> Any:
    """``SERVICE_COMMANDS`` and ``SCHEMAS`` as module attributes, imported on first use (PEP 562)."""
    if name == "SERVICE_COMMANDS":
        return service_commands()
    if name == "SCHEMAS":
        return schemas()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def migrate(argv: list[str]) -> int:
    """Bring each service's database to the head of its migration history (idempotent)."""
    from shared.platform.logging import configure_logging
    from shared.platform.migrations import new_revision, upgrade_all

    parser = argparse.ArgumentParser(
        prog="monlyceepro migrate",
        description="Met à jour le schéma de la base de chaque service (tous si aucun n'est nommé).")
    parser.add_argument("service", nargs="?", choices=SERVICES)
    parser.add_argument("--autogenerate", metavar="MESSAGE", help=(
        "développement : écrire une nouvelle révision pour SERVICE, d'après la différence entre les modèles "
        "et la dernière révision"))
    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logging("migrate", settings.log_level, settings.log_json)
    if args.autogenerate:
        if not args.service:
            parser.error("--autogenerate demande le nom du service")
        path = new_revision(schemas()[args.service], args.autogenerate)
        print(f"Nouvelle révision : {path}" if path else "Les modèles et les migrations concordent : rien à écrire.")
        return 0
    chosen = [schemas()[args.service]] if args.service else list(schemas().values())
    for service, before, after in upgrade_all(chosen, settings.database_url_for):
        was, now = ", ".join(before) or "vide", ", ".join(after)
        state = "à jour" if before == after else f"{was} → {now}"
        print(f"  {service:9s} révision {now} ({state})", flush=True)
    return 0


def serve(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="monlyceepro serve")
    parser.add_argument("service", choices=SERVICES)
    parser.add_argument("--host", default=os.environ.get("MLP_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    import uvicorn

    from shared.platform import heap
    from shared.platform.memory import limit_malloc_arenas

    heap.FREEZE_AFTER_START = True  # long-lived process: its start-up heap leaves the full collections
    limit_malloc_arenas()  # before uvicorn and the service start their threads
    port = args.port or int(os.environ.get("MLP_PORT", SERVICE_PORTS[args.service]))
    uvicorn.run(
        f"services.{args.service}.app:create_app", factory=True, host=args.host, port=port,
        log_level="warning", access_log=False, timeout_graceful_shutdown=5,
        ws="none",  # no service speaks WebSocket: "auto" would import the websockets library in each
    )
    return 0


def relay(argv: list[str]) -> int:
    """A standalone outbox relay for one service's database (run the service with MLP_RELAY_ENABLED=false)."""
    import asyncio

    from shared.platform.db import make_engine
    from shared.platform.logging import configure_logging
    from shared.platform.migrations import check_schema
    from shared.platform.redis_conn import redis_broker
    from shared.platform.relay import OutboxRelay

    parser = argparse.ArgumentParser(prog="monlyceepro relay")
    parser.add_argument("service", choices=SERVICES)
    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logging(f"{args.service}-relay", settings.log_level, settings.log_json)
    engine = make_engine(settings.database_url_for(args.service))
    check_schema(schemas()[args.service], engine, upgrade_empty=settings.env != "prod")

    async def run() -> None:
        broker = redis_broker(settings.redis_url)
        while True:
            try:
                await broker.connect()
                break
            except Exception:
                await asyncio.sleep(0.5)
        await OutboxRelay(
            service=args.service, engine=engine, broker=broker, maxlen=settings.stream_maxlen,
            batch_size=settings.relay_batch, interval_s=min(settings.relay_interval_s, 0.1),
        ).run()

    asyncio.run(run())
    return 0


def replay(argv: list[str]) -> int:
    """After a loss of Redis's data: republish from the outboxes what was published since a time
    (shared/platform/replay.py; runbook in docs/operations.md#redis-perdu)."""
    import asyncio

    from shared.platform.clock import utcnow
    from shared.platform.db import make_engine
    from shared.platform.redis_conn import redis_broker, redis_client_sync
    from shared.platform.replay import parse_since, published_not_in_stream, replay_outbox

    parser = argparse.ArgumentParser(
        prog="monlyceepro replay",
        description="Republie depuis la boîte d'envoi (outbox) de chaque service les événements publiés depuis "
                    "--since, avec les mêmes event_id : les consommateurs ignorent ce qu'ils ont déjà traité.")
    parser.add_argument("--since", required=True, help="durée (2h, 30m, 1d) ou date ISO 8601 (UTC sans fuseau)")
    parser.add_argument("--dry-run", action="store_true", help="compter sans publier")
    parser.add_argument("services", nargs="*", metavar="SERVICE",
                        help=f"services à rejouer (défaut : tous ; {', '.join(SERVICES)})")
    args = parser.parse_args(argv)
    if unknown := [name for name in args.services if name not in SERVICES]:
        parser.error(f"service inconnu : {', '.join(unknown)}")
    try:
        since = parse_since(args.since)
    except ValueError as exc:
        parser.error(str(exc))
    settings = get_settings()
    keep_days = min(settings.outbox_keep_days, settings.stream_keep_days)
    client = redis_client_sync(settings.redis_url, connect_timeout_s=5, timeout_s=30)
    failed = False

    async def run() -> None:
        nonlocal failed
        broker = redis_broker(settings.redis_url)
        await broker.connect()
        try:
            for service in args.services or SERVICES:
                engine = make_engine(settings.database_url_for(service))
                try:
                    report = await replay_outbox(engine, broker, client, service=service, since=since,
                                                 maxlen=settings.stream_maxlen, dry_run=args.dry_run)
                    missing = published_not_in_stream(engine, client, keep_days=keep_days)
                except Exception as exc:  # one database down: say it, go on with the others
                    failed = True
                    print(f"{service} : échec ({type(exc).__name__}: {str(exc)[:200]})", file=sys.stderr)
                    continue
                finally:
                    engine.dispose()
                verb = "à republier" if args.dry_run else "republié(s)"
                detail = ", ".join(f"{stream} {n}" for stream, n in sorted(report.published.items()))
                print(f"{service} : {report.total} événement(s) {verb} depuis {since.isoformat(timespec='seconds')}"
                      + (f" ({detail})" if detail else "")
                      + f", {sum(report.already_on_stream.values())} encore dans les flux ; "
                      + f"absents des flux : {sum(missing.values())}")
                horizon = utcnow() - timedelta(days=settings.outbox_keep_days)
                if since < horizon:
                    print(f"  attention : les lignes publiées avant {horizon.isoformat(timespec='seconds')} sont "
                          f"purgées (MLP_OUTBOX_KEEP_DAYS={settings.outbox_keep_days}) et ne peuvent être rejouées",
                          file=sys.stderr)
        finally:
            await broker.stop()

    try:
        asyncio.run(run())
    finally:
        client.close()
    return 1 if failed else 0


def mailsink(argv: list[str]) -> int:
    from services.mailsink import serve_mailsink

    parser = argparse.ArgumentParser(prog="monlyceepro mailsink")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args(argv)
    directory = args.dir or str(get_settings().var_dir / "mailbox")
    from pathlib import Path

    serve_mailsink(args.host, args.port, Path(directory))
    return 0


def mailbox(argv: list[str]) -> int:
    from services.mailsink import list_mailbox

    for name, to, subject in list_mailbox(get_settings().var_dir / "mailbox"):
        print(f"{name}  {to}  {subject}")
    return 0


def serve_all(argv: list[str]) -> int:
    from services.launcher import serve_all as launch

    return launch(argv)


def _up(argv: list[str]) -> int:
    from services.catalog.cli import load_catalog
    from services.supervisor import up

    return up(argv, load_catalog, migrate)


# Sub-commands of the whole system (the composition's own).
COMMANDS: dict[str, Command] = {
    "up": (_up, "tout le système"),
    "migrate": (migrate, "mettre à jour le schéma des bases (avant de démarrer)"),
    "serve": (serve, "un service"),
    "serve-all": (serve_all, "plusieurs services issus d'un même lanceur (SERVICE=PORT …)"),
    "mailsink": (mailsink, "boîte SMTP locale"),
    "relay": (relay, "relais outbox autonome d'un service"),
    "mailbox": (mailbox, "lister les courriels reçus"),
    "replay": (replay, "republier depuis les outbox après une perte des données de Redis"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = COMMANDS
    if not argv or argv[0] in {"-h", "--help"}:
        print("usage: monlyceepro COMMANDE [options]\n\nCommandes :")
        for name, (_, doc) in commands.items():
            print(f"  {name:14s} {doc}")
        for name, (_, doc) in service_commands().items():
            print(f"  {name:14s} {doc}")
        return 0
    name, rest = argv[0], argv[1:]
    if name in commands:
        return commands[name][0](rest)
    if name in service_commands():
        return int(service_commands()[name][0](rest) or 0)
    print(f"Commande inconnue : {name}. Voir `monlyceepro --help`.", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
