"""Managed Redis and PostgreSQL as a cluster deployment gets them: an ACL user with a password, TLS,
``sslmode``. Everything goes through the platform's own factories (shared/platform/redis_conn.py,
shared/platform/db.py) on a real redis-server started here with an ACL user (and TLS when this
redis-server was built with it), so what docs/operations.md tells an operator to put in
``MLP_REDIS_URL`` / ``MLP_DATABASE_URL`` is what was run."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import Session, func, select

from shared.contracts.events import CatalogChanged, Streams
from shared.platform.consumer import subscribe_reliably
from shared.platform.consumer_groups import ensure_consumer_groups
from shared.platform.db import create_tables, make_engine, postgres_driver_url
from shared.platform.observability import refresh_stream_gauges
from shared.platform.outbox import BACKBONE_TABLES, add_to_outbox
from shared.platform.redis_conn import redacted, redis_broker, redis_client, redis_client_sync
from shared.platform.relay import OutboxRelay
from shared.platform.settings import Settings
from shared.platform.stream_retention import trim_streams_at
from tests.support.backbone_worker import Effect
from tests.support.eventually import eventually, eventually_async
from tests.support.servers import free_port

pytestmark = pytest.mark.timeout(120)

USER = "mlp"
# Characters that must be percent-encoded in a URL: the operator's real passwords have them.
PASSWORD = "s3cr@t/p:w%d"
# The ACL docs/operations.md gives for the services' user: their keys only (streams mlp.*, the
# last-error hashes mlp:*), no administrative command.
APP_ACL = f"user {USER} on >{PASSWORD} ~mlp.* ~mlp:* resetchannels -@all +@read +@write +@stream +@connection +@keyspace -@dangerous"


def _url(scheme: str, port: int, password: str = PASSWORD, query: str = "") -> str:
    return f"{scheme}://{USER}:{quote(password, safe='')}@127.0.0.1:{port}/0{query}"


class AclRedis:
    """A redis-server whose default user is off: only the ACL user gets in (over TLS if ``tls``)."""

    def __init__(self, directory: Path, tls: Path | None = None) -> None:
        self.port = free_port()
        self.tls = tls
        lines = ["bind 127.0.0.1", 'save ""', "appendonly no", f"dir {directory}", "user default off", APP_ACL]
        if tls:
            lines += ["port 0", f"tls-port {self.port}", f"tls-cert-file {tls / 'server.crt'}",
                      f"tls-key-file {tls / 'server.key'}", f"tls-ca-cert-file {tls / 'ca.crt'}",
                      "tls-auth-clients no"]
        else:
            lines.append(f"port {self.port}")
        conf = directory / "redis.conf"
        conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.log = directory / "redis.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen([shutil.which("redis-server"), str(conf)], stdout=out, stderr=subprocess.STDOUT)

    def url(self, password: str = PASSWORD, query: str = "") -> str:
        if self.tls:
            return _url("rediss", self.port, password, query or f"?ssl_ca_certs={self.tls / 'ca.crt'}")
        return _url("redis", self.port, password, query)

    def wait(self) -> AclRedis:
        def answers() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError("redis-server exited: " + self.log.read_text(errors="replace")[-2000:])
            return bool(redis_client_sync(self.url(), connect_timeout_s=1).ping())

        eventually(answers, timeout=15, what="redis-server with an ACL user", ignoring=(redis.ConnectionError,))
        return self

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def _make_certificates(directory: Path) -> Path:
    """A throwaway CA and a server certificate for localhost / 127.0.0.1."""
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True, timeout=30)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=MLP test CA")
    run("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    (directory / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n", encoding="utf-8")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.crt", "-days", "1", "-extfile", "san.ext")
    (directory / "server.key").chmod(0o600)
    return directory


@pytest.fixture
def acl_redis(tmp_path):
    server = AclRedis(tmp_path).wait()
    yield server
    server.stop()


@pytest.fixture
def tls_redis(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl absent: no certificate for a TLS redis-server")
    certs = tmp_path / "certs"
    certs.mkdir()
    server = AclRedis(tmp_path, tls=_make_certificates(certs))
    try:
        server.wait()
    except AssertionError:
        server.stop()
        # A build without TLS (BUILD_TLS=no) rejects the directive; Debian's is built with it.
        if "Bad directive" in server.log.read_text(errors="replace"):
            pytest.skip("this redis-server was built without TLS: it rejects tls-port")
        raise
    yield server
    server.stop()


def _through_the_platform(url: str, db_url: str) -> None:
    """outbox -> relay -> stream -> reliable consumer -> effect, then the scrape-time gauges and the
    stream retention: every Redis command the services send, under the ACL user."""
    engine = make_engine(db_url)
    create_tables(engine, [*BACKBONE_TABLES, Effect])
    events = [CatalogChanged(correlation_id=f"managed{i}", uais=[f"0690{i:03d}A"], change="profile") for i in range(5)]
    with Session(engine) as session:
        for event in events:
            add_to_outbox(session, event)
        session.commit()

    def handle(event: CatalogChanged, session) -> None:
        session.add(Effect(event_id=str(event.event_id), worker="managed"))

    def effects() -> int:
        with Session(engine) as session:
            return session.exec(select(func.count()).select_from(Effect)).one()

    async def flow() -> None:
        broker, client = redis_broker(url), redis_client(url)
        subscribe_reliably(broker, client, engine, stream=Streams.CATALOG_CHANGED, group="matcher",
                           consumer="matcher-managed", handler=handle, claim_idle_ms=500, polling_interval_ms=50)
        await ensure_consumer_groups(broker, client)
        await broker.start()
        try:
            relay = OutboxRelay(service="catalog", engine=engine, broker=broker, maxlen=1000)
            while await relay.publish_pending():
                pass
            await relay.flush_marks()
            await eventually_async(lambda: effects() == len(events), timeout=30, what="events consumed")
            await refresh_stream_gauges(client)
            groups = await client.xinfo_groups(Streams.CATALOG_CHANGED)
            assert [(g["name"], g["pending"]) for g in groups] == [(b"matcher", 0)]
        finally:
            await broker.stop()
            await client.aclose()

    try:
        asyncio.run(flow())
        assert trim_streams_at(url, keep_days=7, deadletter_keep_days=30) == {}
    finally:
        engine.dispose()


def test_an_acl_user_with_a_password_runs_the_backbone(acl_redis, tmp_path):
    assert Settings(redis_url=acl_redis.url()).redis_url == acl_redis.url()
    _through_the_platform(acl_redis.url(), f"sqlite:///{tmp_path}/acl.db")


def test_a_wrong_password_or_no_user_is_refused_with_a_clear_error(acl_redis):
    with pytest.raises(redis.AuthenticationError, match="invalid username-password pair"):
        redis_client_sync(acl_redis.url(password="wrong")).ping()

    async def async_wrong() -> None:
        client = redis_client(acl_redis.url(password="wrong"))
        try:
            await client.ping()
        finally:
            await client.aclose()

    with pytest.raises(redis.AuthenticationError, match="invalid username-password pair"):
        asyncio.run(async_wrong())
    # The default user is off: a URL without credentials gets nothing either.
    with pytest.raises(redis.AuthenticationError):
        redis_client_sync(f"redis://127.0.0.1:{acl_redis.port}/0").ping()


def test_the_acl_user_cannot_reach_other_keys_nor_admin_commands(acl_redis):
    client = redis_client_sync(acl_redis.url())
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.set("somebody-else", "x")
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.flushall()
    client.close()


def test_tls_with_a_private_ca_and_an_acl_user_runs_the_backbone(tls_redis, tmp_path):
    url = tls_redis.url()
    assert url.startswith("rediss://")
    _through_the_platform(url, f"sqlite:///{tmp_path}/tls.db")


def test_tls_verifies_the_server_certificate(tls_redis):
    # Without the private CA the system's CAs do not know this certificate: refused, not trusted blindly.
    with pytest.raises(redis.ConnectionError, match="(?i)certificate verify failed"):
        redis_client_sync(_url("rediss", tls_redis.port)).ping()
    # A plain-text client on the TLS port gets no answer it can read.
    with pytest.raises(redis.ConnectionError):
        redis_client_sync(_url("redis", tls_redis.port), timeout_s=2).ping()


def test_the_password_never_appears_in_what_is_logged():
    url = _url("rediss", 6380, query="?ssl_ca_certs=/etc/mlp/ca.pem")
    shown = redacted(url)
    assert quote(PASSWORD, safe="") not in shown and PASSWORD not in shown
    assert shown == "rediss://mlp:***@127.0.0.1:6380/0?ssl_ca_certs=/etc/mlp/ca.pem"
    assert redacted("redis://redis:6379/0") == "redis://redis:6379/0"


def test_a_redis_url_of_another_scheme_is_refused_at_start_up():
    with pytest.raises(ValueError, match="rediss://"):
        Settings(redis_url="tcp://redis:6379")


# ------------------------------------------------------------------------------------ PostgreSQL
def test_postgres_urls_keep_sslmode_and_every_libpq_parameter():
    url = "postgres://mlp:p%40ss@db.example:5432/mlp_{service}?sslmode=verify-full&sslrootcert=/etc/mlp/pg-ca.pem"
    settings = Settings(database_url=url)
    engine = make_engine(settings.database_url_for("intake"))
    try:
        _, params = engine.dialect.create_connect_args(engine.url)
        assert engine.url.drivername == "postgresql+psycopg"
        assert params["dbname"] == "mlp_intake" and params["password"] == "p@ss"
        assert params["sslmode"] == "verify-full" and params["sslrootcert"] == "/etc/mlp/pg-ca.pem"
    finally:
        engine.dispose()
    assert postgres_driver_url("postgresql://h/db?sslmode=require") == "postgresql+psycopg://h/db?sslmode=require"


@pytest.mark.postgres
def test_sslmode_reaches_the_postgresql_server(postgres_url):
    """``sslmode=require`` is obeyed: on a server without TLS it fails, on one with TLS the session
    is encrypted (pg_stat_ssl); ``sslmode=disable`` connects in clear either way."""
    base = make_url(postgres_url).set(drivername="postgresql")
    plain = make_engine(base.update_query_dict({"sslmode": "disable"}).render_as_string(hide_password=False))
    with plain.connect() as conn:
        server_ssl = conn.execute(text("SHOW ssl")).scalar() == "on"
    plain.dispose()
    required = make_engine(base.update_query_dict({"sslmode": "require"}).render_as_string(hide_password=False))
    try:
        if server_ssl:
            with required.connect() as conn:
                assert conn.execute(text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).scalar()
        else:
            with pytest.raises(Exception, match="(?i)ssl"):
                with required.connect():
                    pass
    finally:
        required.dispose()
