"""The whole MonLycéePro system as real processes for end-to-end, chaos, fuzz and benchmark runs:
four services (optionally several instances), a private Redis, SQLite (or PostgreSQL)
databases, a recording SMTP sink, the real catalog data loaded once per session, the settings
that make it react fast (``FAST_ENV``) and the company requests to submit to it."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx

from tests.support.live import ROOT, ServiceProcess, service_env
from tests.support.servers import free_port
from tests.support.smtp import SmtpSink

# Lyon and around: the real catalog has many lycées with bakery/restaurant formations there.
PLACES = ["69007", "69003", "69100", "69009", "42100", "38000"]
JOBS = ["Boulanger", "Cuisinier", "Électricien", "Mécanicien automobile", "Coiffeur", "Serveur"]
FAST_ENV = {
    "MLP_CLAIM_IDLE_MS": "1000",
    "MLP_SEND_POLL_S": "0.1",
    "MLP_SEND_LEASE_S": "5",
    "MLP_SEND_RETRY_BASE_S": "0.3",
    "MLP_SEND_RETRY_MAX_S": "2",
    "MLP_MAX_SEND_ATTEMPTS": "500",
    "MLP_SMTP_TIMEOUT_S": "3",
    "MLP_RATE_LIMIT_IP": "100000",
    "MLP_MIN_FILL_SECONDS": "1",
    "MLP_LOG_LEVEL": "INFO",
}


def request_body(n: int, tag: str = "chaos") -> dict:
    """A valid company request; each n is a distinct company with a distinct contact address."""
    return {
        "needs": ["pfmp"],
        "jobs": [JOBS[n % len(JOBS)]],
        "location": {"postal_code": PLACES[n % len(PLACES)]},
        "radius_km": 30,
        "company_name": f"Entreprise {tag.capitalize()} {n}",
        "contact": {"name": "Jeanne Martin", "email": f"{tag}.{n}.{uuid.uuid4().hex[:8]}@entreprise-{n}.fr"},
        "message": "Nous pouvons accueillir deux élèves au printemps.",
        "places": 2,
        "period": "mars à juin 2027",
    }


_LOADED: list[Path] = []
# The log folders of the systems the current test built: a failed test's report shows their warnings and
# last lines (tests/conftest.py), so a failure seen only in CI can be read without rerunning it.
SYSTEM_LOGS: list[Path] = []


def catalog_template(cache_dir: Path) -> Path:
    """The real catalog loaded once into an SQLite file, copied for each system. The file is named by a
    hash of data/ and the catalog's code, so a cache directory kept between runs (the benchmarks')
    never serves a stale catalog; concurrent loaders each write their own temporary file."""
    if _LOADED and _LOADED[0].exists():  # loaded already by this process: the sources do not change under it
        return _LOADED[0]
    digest = hashlib.sha256()
    for path in sorted([*(ROOT / "data").glob("*.csv"), *(ROOT / "services" / "catalog").rglob("*.py")]):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    cache_dir.mkdir(parents=True, exist_ok=True)
    db = cache_dir / f"catalog-{digest.hexdigest()[:12]}.db"
    _LOADED[:] = [db]
    if not db.exists():
        loading = db.with_suffix(f".{os.getpid()}.tmp")
        env = {**service_env(cache_dir, "redis://127.0.0.1:1/0"), "MLP_DATABASE_URL": f"sqlite:///{loading}"}
        subprocess.run([sys.executable, "-m", "services.cli", "load-catalog"], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        loading.rename(db)
    return db


def copy_catalog(template: Path, database_url: str) -> None:
    """Copy the catalog loaded once (``catalog_template``, SQLite) into a migrated catalog database
    elsewhere (PostgreSQL), row for row: a few seconds instead of a load from the open data."""
    from sqlalchemy import Integer, create_engine, text

    from services.catalog.migrations import SCHEMA

    metadata = SCHEMA.metadata()
    source, target = create_engine(f"sqlite:///{template}"), create_engine(database_url)
    try:
        with source.connect() as src, target.begin() as dst:
            for table in metadata.sorted_tables:
                rows = [dict(row._mapping) for row in src.execute(table.select())]
                for start in range(0, len(rows), 5000):
                    dst.execute(table.insert(), rows[start:start + 5000])
                for column in table.primary_key.columns:  # serial keys go on after the copied ids
                    if isinstance(column.type, Integer) and len(table.primary_key.columns) == 1:
                        dst.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                                         f"coalesce(max({column.name}), 0) + 1, false) FROM {table.name}"))
    finally:
        source.dispose()
        target.dispose()


class System:
    """The four services (``start``), extra instances (``add_instance``) and the SMTP sink they send to:
    an in-process ``SmtpSink`` by default, or any object with ``url``, ``start()`` and ``stop()`` (the
    benchmarks' sink runs in its own process). ``orphan_safe`` ties the services' lives to this process."""

    def __init__(self, tmp_path: Path, redis_url: str, *, catalog_db: Path, extra_env: dict[str, str] | None = None,
                 database_url: str | None = None, sink=None, orphan_safe: bool = False) -> None:
        self.tmp_path = tmp_path
        self.sink = sink if sink is not None else SmtpSink()
        self.orphan_safe = orphan_safe
        self.env = service_env(tmp_path, redis_url, MLP_SMTP_URL=self.sink.url, **(extra_env or {}))
        if database_url:
            self.env["MLP_DATABASE_URL"] = database_url
        else:
            shutil.copy(catalog_db, tmp_path / "catalog.db")
        self.logs = tmp_path / "logs"
        SYSTEM_LOGS.append(self.logs)
        self.processes: dict[str, list[ServiceProcess]] = {}

    def url(self, service: str) -> str:
        return self.env[f"MLP_{service.upper()}_URL"]

    def start(self, services=("catalog", "intake", "matcher", "notifier"), *, parallel: bool = False,
              env: dict[str, dict[str, str]] | None = None, timeout: float = 180) -> System:
        """Start the sink and the services; ``parallel`` starts them all before waiting for any
        (much faster on a busy machine); ``env`` adds variables per service."""
        self.sink.start()
        started = [self.add_instance(name, primary=True, env=(env or {}).get(name), wait=not parallel)
                   for name in services]
        for proc in started:
            proc.wait_ready(timeout)  # generous: a loaded CI machine starts four processes slowly
        return self

    def add_instance(self, name: str, *, primary: bool = False, env: dict[str, str] | None = None,
                     wait: bool = True) -> ServiceProcess:
        instance_env = dict(self.env)
        index = len(self.processes.get(name, []))
        instance_env["MLP_INSTANCE"] = f"i{index}"
        if name == "notifier" and not primary:
            instance_env["MLP_INBOUND_SMTP_PORT"] = str(free_port())
        instance_env.update(env or {})
        port = None if primary else free_port()
        proc = ServiceProcess(name, instance_env, port=port, log_dir=self.logs,
                              orphan_safe=self.orphan_safe).start(wait_ready=wait)
        self.processes.setdefault(name, []).append(proc)
        return proc

    def process(self, name: str, index: int = 0) -> ServiceProcess:
        return self.processes[name][index]

    def stop(self) -> None:
        for procs in self.processes.values():
            for proc in procs:
                proc.stop()
        self.sink.stop()

    def submit(self, body: dict, **headers: str) -> httpx.Response:
        return httpx.post(self.url("intake") + "/api/v1/requests", json=body, headers=headers, timeout=10)

    def log_lines(self, service: str) -> list[str]:
        lines: list[str] = []
        for path in sorted(self.logs.glob(f"{service}-*.log")):
            lines.extend(path.read_text(encoding="utf-8", errors="replace").splitlines())
        return lines


class Submitter(threading.Thread):
    """Sends the requests one after the other; a refused connection is retried with the same
    Idempotency-Key (a client that does not know whether its first try went through), every
    ``retry_s`` for up to ``tries`` times. A request counts as accepted only once intake answered
    202. ``finish()`` ends the run early, after the request in progress."""

    def __init__(self, system: System, n: int, interval: float, *, tries: int = 50, retry_s: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.system, self.n, self.interval = system, n, interval
        self.tries, self.retry_s = tries, retry_s
        self.accepted: dict[str, str] = {}  # request_id -> status_api_url
        self.posts = 0
        self.retried = 0  # requests that needed more than one POST (intake unreachable)
        self.errors: list[str] = []
        self._finish = threading.Event()

    def finish(self) -> None:
        self._finish.set()

    def run(self) -> None:
        for i in range(self.n):
            if self._finish.is_set():
                return
            body, key = request_body(i), f"chaos-{i}-{os.getpid()}"
            for attempt in range(self.tries):
                self.posts += 1
                try:
                    response = self.system.submit(body, **{"Idempotency-Key": key})
                except httpx.HTTPError:
                    time.sleep(self.retry_s)
                    continue
                if attempt:
                    self.retried += 1
                if response.status_code == 202:
                    self.accepted[response.json()["request_id"]] = response.json()["status_api_url"]
                else:
                    self.errors.append(f"{response.status_code} {response.text[:200]}")
                break
            else:
                self.errors.append(f"request {i}: intake unreachable after {self.tries} tries")
            time.sleep(self.interval)
