"""Composition helpers shared by the four services: runtime (settings, DB, broker, Redis,
outbox relay) and the FastAPI app with /healthz, /readyz, /metrics and correlation ids."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from faststream.redis import RedisBroker
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio import Redis
from sqlalchemy import Engine
from tenacity import AsyncRetrying, wait_exponential

from shared.platform import heap
from shared.platform.consumer import Subscription, subscribe_reliably
from shared.platform.consumer_groups import ensure_consumer_groups, watch_consumer_groups
from shared.platform.db import make_engine, ping
from shared.platform.db_threads import DbThreads
from shared.platform.housekeeping import housekeeping_loop
from shared.platform.logging import configure_logging, correlation_scope, get_logger
from shared.platform.metrics import HTTP_REQUESTS, HTTP_SECONDS
from shared.platform.migrations import ServiceSchema, check_schema
from shared.platform.observability import (
    refresh_outbox_gauges,
    refresh_outbox_stream_gauge,
    refresh_stream_gauges,
)
from shared.platform.redis_conn import redacted, redis_broker, redis_client
from shared.platform.relay import OutboxRelay
from shared.platform.settings import Settings
from shared.platform.sqlite_writes import checkpoint_off_the_commit, checkpoint_wal

log = get_logger(__name__)

BackgroundTask = Callable[["ServiceRuntime"], Coroutine[Any, Any, None]]  # run by asyncio.create_task
T = TypeVar("T")


@dataclass
class ServiceRuntime:
    """Everything a service's handlers and routes depend on, built once at the composition root."""

    name: str
    settings: Settings
    engine: Engine
    broker: RedisBroker
    redis: Redis
    relay: OutboxRelay
    db: DbThreads
    broker_ready: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task] = field(default_factory=list)

    @property
    def consumer_name(self) -> str:
        return self.settings.consumer_name(self.name)

    def subscribe(self, subscriptions: Iterable[Subscription]) -> None:
        """The one way a service reads its streams: a reliable reader and claimer per stream, its own group."""
        s = self.settings
        for sub in subscriptions:
            subscribe_reliably(
                self.broker, self.redis, self.engine, stream=sub.stream, group=self.name,
                consumer=self.consumer_name, handler=sub.handler, max_deliveries=s.max_deliveries,
                claim_idle_ms=s.claim_idle_ms, polling_interval_ms=s.polling_interval_ms, accepts=(sub.event_type,),
            )

    async def run_db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Database work from a route or a background task (see shared/platform/db_threads.py)."""
        return await self.db.run(fn, *args, **kwargs)

    async def run_write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A hot write of one transaction: on the event loop when SQLite's lock is free, else a thread."""
        return await self.db.run_write(fn, *args, **kwargs)


def build_runtime(name: str, settings: Settings, schema: ServiceSchema) -> ServiceRuntime:
    """Raises SchemaNotCurrent when the database is behind the code (``monlyceepro migrate`` first)."""
    configure_logging(name, settings.log_level, settings.log_json)
    engine = make_engine(settings.database_url_for(name))
    try:
        check_schema(schema, engine, upgrade_empty=settings.env != "prod")
    except Exception:
        engine.dispose()
        raise
    # No faststream Prometheus middleware: shared.platform.consumer and the relay count what it counted
    # (mlp_events_consumed_total, mlp_event_handle_seconds, mlp_outbox_published_total), and it cost about
    # 2 ms of CPU per request across the services at 20 req/s (docs/benchmarks-changelog.md).
    broker = redis_broker(settings.redis_url)
    redis = redis_client(settings.redis_url, connect_timeout_s=2, timeout_s=5)
    inline_writes = settings.sqlite_inline_writes and engine.dialect.name == "sqlite"
    relay = OutboxRelay(
        service=name,
        engine=engine,
        broker=broker,
        maxlen=settings.stream_maxlen,
        batch_size=settings.relay_batch,
        interval_s=settings.relay_interval_s,
        inline_writes=inline_writes,
    )
    if inline_writes:  # the WAL is then checkpointed by a background task, not by a commit on the loop
        checkpoint_off_the_commit(engine)
    return ServiceRuntime(name=name, settings=settings, engine=engine, broker=broker, redis=redis, relay=relay,
                          db=DbThreads(f"{name}-db", workers=8, inline_writes=inline_writes))


WAL_CHECKPOINT_S = 1.0


async def _checkpoint_wal(runtime: ServiceRuntime) -> None:
    """With inline writes on SQLite, commits no longer checkpoint the WAL: this does, every second, on a
    database thread (``checkpoint_wal``: the WAL stays under about 16 MiB plus a second of writes)."""
    if not runtime.db.inline_writes:
        return
    while True:
        await asyncio.sleep(WAL_CHECKPOINT_S)
        try:
            await runtime.run_db(checkpoint_wal, runtime.engine)
        except Exception as exc:  # a locked or busy file: the next turn checkpoints what is left
            log.warning("wal_checkpoint_failed", error=type(exc).__name__)


SHUTDOWN_STEP_S = 10.0


async def _bounded(step: str, awaitable: Awaitable[Any], timeout_s: float = SHUTDOWN_STEP_S) -> None:
    """One shutdown step, never longer than ``timeout_s``: a step stuck on a dead connection
    must not hold the process past its orchestrator's grace period (it would be SIGKILLed with
    the rest of the shutdown undone). ``asyncio.wait`` rather than ``wait_for``: on timeout it
    does not wait for the step to acknowledge its cancellation."""
    task = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    if not done:
        task.cancel()
        log.warning("shutdown_step_timeout", step=step, timeout_s=timeout_s)
    elif not task.cancelled() and task.exception() is not None:
        log.warning("shutdown_step_failed", step=step, error=type(task.exception()).__name__)


async def _start_broker(runtime: ServiceRuntime) -> None:
    # Redis may be down at start-up: the HTTP side still serves (intake accepts requests into
    # its outbox) and the broker connects as soon as Redis answers.
    async for attempt in AsyncRetrying(wait=wait_exponential(multiplier=0.2, max=5)):
        with attempt:
            try:
                await ensure_consumer_groups(runtime.broker, runtime.redis)
                await runtime.broker.start()
            except Exception as exc:
                # The message says why (wrong password, unverifiable certificate, refused connection);
                # redis-py never puts the password in it.
                log.warning("broker_start_failed", error=type(exc).__name__, detail=str(exc)[:300],
                            redis=redacted(runtime.settings.redis_url))
                with contextlib.suppress(Exception):
                    await runtime.broker.stop()
                raise
    runtime.broker_ready.set()
    log.info("broker_started")
    if runtime.settings.relay_enabled:
        runtime.tasks.append(asyncio.create_task(runtime.relay.run(), name=f"{runtime.name}-relay"))


async def _watch_groups(runtime: ServiceRuntime) -> None:
    """Redis may lose its data while we run (FLUSHALL, failover without persistence): the groups
    come back at "0" and stopped subscribers restart, no service restart needed. Started with the
    other background tasks (not by ``_start_broker``, which may still be running at shutdown) so
    that the shutdown always cancels it."""
    await runtime.broker_ready.wait()
    await watch_consumer_groups(runtime.broker, runtime.settings.redis_url)


# Probes and scrapes would drown the access log.
_QUIET_ROUTES = {"/healthz", "/readyz", "/metrics", "/dsfr", "/static", "unmatched"}


class _CorrelationAndMetricsMiddleware:
    """Correlation id, HTTP metrics and the access log line. Plain ASGI: Starlette's
    BaseHTTPMiddleware costs a task and a memory stream per request, a measurable share of a
    small endpoint's CPU."""

    def __init__(self, app, service: str) -> None:
        self.app = app
        self.service = service
        # (route, method, status) -> its counter and histogram children: labels() costs a lock and
        # a few string operations per call, twice per request. The labels are bounded (route
        # templates, methods, statuses), so is this cache.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def _metrics(self, template: str, method: str, status: int) -> tuple[Any, Any]:
        key = (template, method, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (HTTP_REQUESTS.labels(self.service, template, method, str(status)),
                                              HTTP_SECONDS.labels(self.service, template, method))
        return children

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _trusted_request_id(scope.get("headers") or [])
        with correlation_scope(incoming) as cid:
            scope.setdefault("state", {})["correlation_id"] = cid
            started = time.perf_counter()
            status = 500
            request_id = cid.encode()

            async def send_with_request_id(message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                    message["headers"] = [*headers, (b"x-request-id", request_id)]
                await send(message)

            try:
                await self.app(scope, receive, send_with_request_id)
            finally:
                route = scope.get("route")
                template = getattr(route, "path", None) or "unmatched"
                elapsed = time.perf_counter() - started
                method = scope["method"]
                requests, seconds = self._metrics(template, method, status)
                requests.inc()
                seconds.observe(elapsed)
                if template not in _QUIET_ROUTES:
                    log.info("http_request", method=method, route=template, status=status,
                             duration_ms=round(elapsed * 1000, 1))


def _trusted_request_id(headers) -> str | None:
    """The caller's X-Request-ID (or X-Correlation-ID) when it is a short token: never trust an
    arbitrary header into every log line."""
    found = {name: value for name, value in headers if name in (b"x-request-id", b"x-correlation-id")}
    text = (found.get(b"x-request-id") or found.get(b"x-correlation-id") or b"").decode("latin-1")
    return text if text and len(text) <= 64 and text.replace("-", "").isalnum() else None


# FastAPI's built-in OpenTelemetry layer looks up the tracer, meter and logger providers on every
# request (then once more per operation) to find out whether anyone configured one. MonLycéePro does
# not use OpenTelemetry (its metrics are Prometheus, its traces the correlation id in the logs), so
# the layer is switched off where this FastAPI has it.
_NO_OTEL: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters else {}
)


def create_service_app(
    runtime: ServiceRuntime,
    *,
    title: str,
    description: str = "",
    background: Sequence[BackgroundTask] = (),
    on_drain: Sequence[Callable[[ServiceRuntime], Awaitable[None]]] = (),
    on_shutdown: Sequence[Callable[[ServiceRuntime], Awaitable[None]]] = (),
    ready_checks: dict[str, Callable[[], bool]] | None = None,
    version: str = "1.0.0",
) -> FastAPI:
    """The FastAPI app of one service. Subscribers must be registered on runtime.broker before."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sys.setswitchinterval(runtime.settings.gil_switch_interval_s)
        runtime.tasks.append(asyncio.create_task(_start_broker(runtime), name=f"{runtime.name}-broker"))
        for start in (housekeeping_loop, _watch_groups, _checkpoint_wal, *background):
            runtime.tasks.append(asyncio.create_task(start(runtime), name=getattr(start, "__name__", "task")))
        if heap.FREEZE_AFTER_START:  # a served process: everything built so far lives as long as it does
            heap.freeze_startup_heap()
        log.info("service_started", port_hint=runtime.settings.public_base_url)
        try:
            yield
        finally:
            runtime.relay.stop()
            for drain in on_drain:  # work in flight ends cleanly before its task is cancelled
                await _bounded(getattr(drain, "__name__", "on_drain"), drain(runtime))
            for task in runtime.tasks:
                task.cancel()
            await _bounded("background_tasks", asyncio.gather(*runtime.tasks, return_exceptions=True))
            runtime.tasks.clear()
            for hook in on_shutdown:
                await _bounded(getattr(hook, "__name__", "on_shutdown"), hook(runtime))
            await _bounded("broker", runtime.broker.stop())
            await _bounded("redis", runtime.redis.aclose())
            runtime.db.shutdown()
            log.info("service_stopped")

    app = FastAPI(title=title, description=description, version=version, lifespan=lifespan, **_NO_OTEL)
    app.state.runtime = runtime
    # Imported here: the HTTP edge's typed dependencies name ServiceRuntime, defined in this module.
    from shared.platform.http import install_error_handlers

    install_error_handlers(app)
    app.add_middleware(_CorrelationAndMetricsMiddleware, service=runtime.name)

    @app.get("/healthz", tags=["exploitation"], summary="Le service est vivant")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": runtime.name}

    @app.get("/readyz", tags=["exploitation"], summary="Redis et la base de données répondent")
    async def readyz() -> JSONResponse:
        db_ok = await asyncio.to_thread(ping, runtime.engine)
        try:
            redis_ok = bool(await runtime.redis.ping())
        except Exception:
            redis_ok = False
        # Service-specific conditions, e.g. the matcher's catalog read model being loaded.
        extra = {name: bool(check()) for name, check in (ready_checks or {}).items()}
        ok = db_ok and redis_ok and all(extra.values())
        return JSONResponse(
            {"status": "ok" if ok else "indisponible", "database": db_ok, "redis": redis_ok, **extra},
            status_code=200 if ok else 503,
        )

    @app.get("/metrics", tags=["exploitation"], summary="Métriques Prometheus", include_in_schema=False)
    async def metrics() -> Response:
        with contextlib.suppress(Exception):
            await refresh_stream_gauges(runtime.redis)
        with contextlib.suppress(Exception):
            await refresh_outbox_gauges(runtime.name, runtime.engine)
        with contextlib.suppress(Exception):
            s = runtime.settings
            await refresh_outbox_stream_gauge(runtime.name, runtime.engine, runtime.redis,
                                              keep_days=min(s.outbox_keep_days, s.stream_keep_days))
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
