"""The ``monlyceepro`` console command."""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import signal
import subprocess
import sys
import time
from urllib.parse import urlparse

from shared.settings import SERVICE_PORTS, SERVICES, get_settings

# Sub-commands implemented by a service: "module:function", each taking its own argv.
SERVICE_COMMANDS: dict[str, tuple[str, str]] = {
    "load-catalog": ("services.catalog.cli:load_catalog", "charger le catalogue depuis data/ (idempotent)"),
    "import-rbe": ("services.catalog.cli:import_rbe", "importer l'annuaire des RBE depuis un CSV"),
    "coverage": ("services.matcher.cli:coverage", "rapport de couverture par académie"),
    "retention": ("services.intake.cli:retention", "anonymiser les demandes au-delà de la durée de conservation"),
    "reminders": ("services.notifier.cli:reminders", "lancer une passe de relances/escalades"),
}


def _call(target: str, argv: list[str]) -> int:
    module, func = target.split(":")
    return int(importlib.import_module(module).__dict__[func](argv) or 0)


def serve(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="monlyceepro serve")
    parser.add_argument("service", choices=SERVICES)
    parser.add_argument("--host", default=os.environ.get("MLP_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    import uvicorn

    port = args.port or int(os.environ.get("MLP_PORT", SERVICE_PORTS[args.service]))
    uvicorn.run(
        f"services.{args.service}.app:create_app", factory=True, host=args.host, port=port,
        log_level="warning", access_log=False, timeout_graceful_shutdown=5,
    )
    return 0


def relay(argv: list[str]) -> int:
    """A standalone outbox relay for one service's database (run the service with MLP_RELAY_ENABLED=false)."""
    import asyncio

    from faststream.redis import RedisBroker

    from shared.db import create_tables, make_engine
    from shared.logging import configure_logging
    from shared.outbox import BACKBONE_TABLES
    from shared.relay import OutboxRelay

    parser = argparse.ArgumentParser(prog="monlyceepro relay")
    parser.add_argument("service", choices=SERVICES)
    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logging(f"{args.service}-relay", settings.log_level, settings.log_json)
    engine = make_engine(settings.database_url_for(args.service))
    create_tables(engine, BACKBONE_TABLES)

    async def run() -> None:
        broker = RedisBroker(settings.redis_url, logger=None)
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


def _redis_alive(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except Exception:
        return False


def ensure_redis(url: str) -> subprocess.Popen | None:
    """Start a local redis-server when the configured one does not answer (dev only)."""
    if _redis_alive(url):
        return None
    parsed = urlparse(url)
    if parsed.hostname not in {"127.0.0.1", "localhost", "::1"}:
        sys.exit(f"Redis ne répond pas sur {url}. Démarrez-le ou corrigez MLP_REDIS_URL.")
    binary = shutil.which("redis-server")
    if not binary:
        sys.exit("redis-server est introuvable. Installez-le : sudo apt-get install -y redis-server (ou `make deps`).")
    settings = get_settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [binary, "--port", str(parsed.port or 6379), "--bind", "127.0.0.1", "--save", "60 1",
         "--dir", str(settings.var_dir), "--dbfilename", "redis.rdb"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        if _redis_alive(url):
            print(f"Redis démarré sur {url}", flush=True)
            return proc
        time.sleep(0.1)
    sys.exit("redis-server n'a pas démarré.")


def up(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="monlyceepro up", description="Tout le système sur cette machine.")
    parser.add_argument("--no-sink", action="store_true", help="ne pas lancer la boîte SMTP locale")
    args = parser.parse_args(argv)
    settings = get_settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    children: list[subprocess.Popen] = []
    redis_proc = ensure_redis(settings.redis_url)
    if redis_proc:
        children.append(redis_proc)
    marker = settings.var_dir / "catalog.loaded"
    if not marker.exists():
        print("Premier démarrage : chargement du catalogue (données ouvertes)…", flush=True)
        if _call(SERVICE_COMMANDS["load-catalog"][0], []) == 0:
            marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))
    exe = [sys.executable, "-m", "shared.cli"]
    smtp = urlparse(settings.smtp_url)
    if not args.no_sink:
        children.append(subprocess.Popen([*exe, "mailsink", "--host", smtp.hostname or "127.0.0.1",
                                          "--port", str(smtp.port or 1025)]))
    for name in ("catalog", "intake", "matcher", "notifier"):
        children.append(subprocess.Popen([*exe, "serve", name]))
    print("MonLycéePro démarre :", flush=True)
    for name, port in SERVICE_PORTS.items():
        print(f"  {name:9s} http://127.0.0.1:{port}/  (santé : /readyz, métriques : /metrics)", flush=True)
    print(f"  courriels reçus : {settings.var_dir / 'mailbox'}  (monlyceepro mailbox)", flush=True)

    def shutdown(*_):
        for child in reversed(children):
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
        sys.exit(0)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    while True:
        for child in children:
            if child.poll() is not None:
                print(f"Un processus s'est arrêté (code {child.returncode}) : arrêt de tout le système.", flush=True)
                shutdown()
        time.sleep(1)


def mailsink(argv: list[str]) -> int:
    from shared.mailsink import serve_mailsink

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
    from shared.mailsink import list_mailbox

    for name, to, subject in list_mailbox(get_settings().var_dir / "mailbox"):
        print(f"{name}  {to}  {subject}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"up": (up, "tout le système"), "serve": (serve, "un service"),
                "mailsink": (mailsink, "boîte SMTP locale"),
                "relay": (relay, "relais outbox autonome d'un service"), "mailbox": (mailbox, "lister les courriels reçus")}
    if not argv or argv[0] in {"-h", "--help"}:
        print("usage: monlyceepro COMMANDE [options]\n\nCommandes :")
        for name, (_, doc) in commands.items():
            print(f"  {name:14s} {doc}")
        for name, (_, doc) in SERVICE_COMMANDS.items():
            print(f"  {name:14s} {doc}")
        return 0
    name, rest = argv[0], argv[1:]
    if name in commands:
        return commands[name][0](rest)
    if name in SERVICE_COMMANDS:
        return _call(SERVICE_COMMANDS[name][0], rest)
    print(f"Commande inconnue : {name}. Voir `monlyceepro --help`.", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
