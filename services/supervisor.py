"""The supervisor behind ``monlyceepro up``: the whole system as child processes on one machine.

Development and demo only (production runs one container per service, docker-compose.yml): it starts
Redis when none answers, migrates every database (``monlyceepro migrate``), loads the catalog when its
data or loader changed, starts the local mail sink and the four services (forked from one launcher,
``monlyceepro serve-all``), and stops everything when one of them stops.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from urllib.parse import urlparse

from shared.platform.redis_conn import redacted, redis_client_sync
from shared.platform.settings import SERVICE_PORTS, get_settings


def _redis_alive(url: str) -> bool:
    import redis

    try:
        return bool(redis_client_sync(url, connect_timeout_s=1).ping())
    except redis.AuthenticationError as exc:  # a server answers: starting another one would not help
        sys.exit(f"Redis refuse l'authentification sur {redacted(url)} ({exc}) : corrigez MLP_REDIS_URL.")
    except Exception:
        return False


def ensure_redis(url: str) -> subprocess.Popen | None:
    """Start a local redis-server when the configured one does not answer (dev only)."""
    if _redis_alive(url):
        return None
    parsed = urlparse(url)
    if parsed.hostname not in {"127.0.0.1", "localhost", "::1"}:
        sys.exit(f"Redis ne répond pas sur {redacted(url)}. Démarrez-le ou corrigez MLP_REDIS_URL.")
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
    try:
        for _ in range(100):
            if _redis_alive(url):  # exits if the URL's credentials are refused
                print(f"Redis démarré sur {redacted(url)}", flush=True)
                return proc
            time.sleep(0.1)
        sys.exit("redis-server n'a pas démarré.")
    except SystemExit:
        proc.terminate()  # not left behind
        raise


def service_ports() -> dict[str, int]:
    """Each service's port: the one of its configured URL (``MLP_<SERVICE>_URL``, the notifier's
    ``MLP_NOTIFIER_API_URL``), so the services find each other wherever they listen; 8001–8004 by default."""
    settings = get_settings()
    urls = {"intake": settings.intake_url, "catalog": settings.catalog_url, "matcher": settings.matcher_url,
            "notifier": settings.notifier_api_url}
    return {name: urlparse(url).port or SERVICE_PORTS[name] for name, url in urls.items()}


def up(argv: list[str], load_catalog: Callable[[list[str]], int], migrate: Callable[[list[str]], int]) -> int:
    parser = argparse.ArgumentParser(prog="monlyceepro up", description="Tout le système sur cette machine.")
    parser.add_argument("--no-sink", action="store_true", help="ne pas lancer la boîte SMTP locale")
    args = parser.parse_args(argv)
    settings = get_settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    children: list[subprocess.Popen] = []
    redis_proc = ensure_redis(settings.redis_url)
    if redis_proc:
        children.append(redis_proc)
    print("Mise à jour du schéma des bases (monlyceepro migrate)…", flush=True)
    if migrate([]) != 0:
        sys.exit("La mise à jour du schéma a échoué : rien n'est démarré.")
    # At every start, not only the first: the load is idempotent (nothing is written while data/ and the
    # loader are those of the last load), and a changed loader (a new job vocabulary) reaches the catalog.
    print("Catalogue : chargement des données ouvertes (si elles ou le chargeur ont changé)…", flush=True)
    if load_catalog([]) == 0:
        (settings.var_dir / "catalog.loaded").write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))
    exe = [sys.executable, "-m", "services.cli"]
    smtp = urlparse(settings.smtp_url)
    if not args.no_sink:
        children.append(subprocess.Popen([*exe, "mailsink", "--host", smtp.hostname or "127.0.0.1",
                                          "--port", str(smtp.port or 1025)]))
    ports = service_ports()
    # One launcher forks the four services after importing their common stack once (services/launcher.py):
    # less memory at rest and a faster start than four `serve` processes (bench.memory measures both).
    children.append(subprocess.Popen([*exe, "serve-all",
                                      *(f"{name}={ports[name]}" for name in ("catalog", "intake", "matcher", "notifier"))]))
    print("MonLycéePro démarre :", flush=True)
    for name, port in ports.items():
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
