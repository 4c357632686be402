"""Real servers for tests: a private redis-server per test session, PostgreSQL databases."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import redis

from tests.support.eventually import eventually

# Listening ports come from below the kernel's ephemeral range (ip_local_port_range, 32768-60999 by
# default), where the outgoing connections of every test process take their source ports: a service
# stopped then restarted on its port (rolling upgrade, Redis loss) found it taken by such a connection
# (« address already in use »).
LISTEN_PORTS = range(20000, 32000)


def free_port() -> int:
    for _ in range(200):
        port = random.choice(LISTEN_PORTS)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:  # a crowded range: any port the kernel gives
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A redis-server process on a free loopback port, which tests may stop and restart."""

    def __init__(self, port: int | None = None, persistent: bool = False, args: list[str] | None = None) -> None:
        # persistent: append-only file fsynced on every write, as production runs it, so a
        # restart keeps streams, consumer groups and pending entries.
        # args: the persistence options instead (e.g. docker-compose.yml's), after the port, bind and dir.
        self.persistent = persistent
        self.args = args
        self.binary = shutil.which("redis-server")
        if not self.binary:
            raise RuntimeError("redis-server introuvable : lancez `make deps` (apt-get install redis-server)")
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="mlp-redis-"))
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        persistence = self.args if self.args is not None else [
            "--save", "", "--appendonly", "yes" if self.persistent else "no", "--appendfsync", "always"]
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir), *persistence],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        eventually(client.ping, timeout=10, what="redis-server answering", ignoring=(redis.ConnectionError,))
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def flush(self) -> None:
        redis.Redis(port=self.port).flushall()


def postgres_admin_url() -> str | None:
    """PostgreSQL to test against: MLP_TEST_POSTGRES_URL, or the local server if it answers. None when
    neither does (the PostgreSQL variants skip, the live systems use SQLite), unless
    MLP_TEST_REQUIRE_POSTGRES is set (CI, .ci/run): then a missing PostgreSQL fails the tests that need it
    instead of letting them pass on SQLite alone."""
    url = os.environ.get("MLP_TEST_POSTGRES_URL")
    if url:
        return url
    with socket.socket() as s:
        s.settimeout(0.5)
        if s.connect_ex(("127.0.0.1", 5432)) != 0:
            if os.environ.get("MLP_TEST_REQUIRE_POSTGRES"):
                raise RuntimeError("MLP_TEST_REQUIRE_POSTGRES est défini mais aucun PostgreSQL ne répond "
                                   "(MLP_TEST_POSTGRES_URL non défini, rien sur 127.0.0.1:5432)")
            return None
    return "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def create_postgres_database(admin_url: str) -> tuple[str, callable]:
    """A fresh database for one test; returns its URL and a function that drops it."""
    import sqlalchemy as sa

    name = f"mlp_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    base = admin_url.rsplit("/", 1)[0]

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return f"{base}/{name}", drop


def create_postgres_databases(admin_url: str, services: tuple[str, ...]) -> tuple[str, callable]:
    """A fresh database per service for one test system; returns the ``MLP_DATABASE_URL`` (with
    ``{service}`` in the database name, as production's) and a function that drops them all."""
    import sqlalchemy as sa

    prefix = f"mlp_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for service in services:
            conn.execute(sa.text(f'CREATE DATABASE "{prefix}_{service}"'))
    base = admin_url.rsplit("/", 1)[0]

    def drop() -> None:
        with admin.connect() as conn:
            for service in services:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{prefix}_{service}" WITH (FORCE)'))
        admin.dispose()

    return f"{base}/{prefix}_{{service}}", drop
