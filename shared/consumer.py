"""Reliable consumption of a Redis stream by one consumer group.

Each call to :func:`subscribe_reliably` registers two faststream subscribers on the broker:

* the **main** subscriber reads new entries (``>``) under a consumer name that is stable
  across restarts (``<group>-<instance>``);
* the **claimer** takes back entries that stayed pending longer than ``claim_idle_ms``
  (a consumer crashed after reading, or the handler failed): faststream never re-reads
  a failed entry by itself.

Before handling, the delivery count is read from the PEL; past ``max_deliveries`` the entry
is copied, with its last error, to ``mlp.deadletter.<group>`` and acknowledged. An entry whose
payload cannot be parsed goes there at once: no retry would fix it.

The handler is a plain function ``handler(event, session)``: it runs inside one transaction
together with the insertion of the ``ProcessedEvent`` key, so a redelivered event has no
second effect. It may return an async callable, run only after the commit (side effects
leave after commit).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from faststream import AckPolicy
from faststream.redis import RedisBroker, StreamSub
from faststream.redis.annotations import RedisStreamMessage
from redis.asyncio import Redis
from redis.exceptions import ResponseError
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from shared.events import Event, Streams, event_from_payload
from shared.logging import correlation_scope, get_logger
from shared.metrics import DEAD_LETTERS, EVENT_HANDLE_SECONDS, EVENTS_CONSUMED
from shared.outbox import ProcessedEvent

log = get_logger(__name__)

AfterCommit = Callable[[], Awaitable[None]]
Handler = Callable[[Any, Session], AfterCommit | None]

LAST_ERROR_KEY = "mlp:lasterror:{group}"

# (stream, group) pairs subscribed on each broker, so the groups can be created from the start
# of the stream before the broker starts (see ensure_consumer_groups).
_GROUPS_BY_BROKER: dict[int, set[tuple[str, str]]] = {}


async def ensure_consumer_groups(broker: RedisBroker, redis: Redis) -> None:
    """Create each subscribed group at "0" (the stream's first entry) if it does not exist.

    faststream creates a missing group at "$", i.e. only for entries added after it starts: an
    event published before a service's very first start would never reach it.
    """
    for stream, group in sorted(_GROUPS_BY_BROKER.get(id(broker), ())):
        try:
            await redis.xgroup_create(stream, group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise


class PoisonMessage(Exception):
    """The entry can never be handled (bad payload, wrong type): dead-letter it at once."""


@dataclass
class ConsumerConfig:
    stream: str
    group: str
    consumer: str
    max_deliveries: int = 5
    claim_idle_ms: int = 30_000
    polling_interval_ms: int = 100
    accepts: tuple[type[Event], ...] = ()


class ReliableConsumer:
    def __init__(
        self, config: ConsumerConfig, engine: Engine, broker: RedisBroker, redis: Redis, handler: Handler
    ) -> None:
        self.config = config
        self.redis = redis
        self.engine = engine
        self.broker = broker
        self.handler = handler
        self.dead_letter_stream = Streams.dead_letter(config.group)

    # -- registration --------------------------------------------------------
    def register(self) -> None:
        cfg = self.config
        _GROUPS_BY_BROKER.setdefault(id(self.broker), set()).add((cfg.stream, cfg.group))
        main = StreamSub(
            cfg.stream, group=cfg.group, consumer=cfg.consumer, polling_interval=cfg.polling_interval_ms
        )
        claimer = StreamSub(
            cfg.stream,
            group=cfg.group,
            consumer=f"{cfg.consumer}-claimer",
            min_idle_time=cfg.claim_idle_ms,
            polling_interval=max(cfg.polling_interval_ms, min(cfg.claim_idle_ms // 2, 1000)),
        )
        for sub in (main, claimer):
            title = f"{cfg.group}:{cfg.stream}:{sub.consumer}"
            self.broker.subscriber(stream=sub, ack_policy=AckPolicy.MANUAL, title=title)(self._on_message)

    # -- handling ------------------------------------------------------------
    async def _on_message(self, body: Any, msg: RedisStreamMessage) -> None:
        cfg = self.config
        entry_id = _entry_id(msg)
        deliveries = await msg.get_delivery_count()
        correlation_id = body.get("data", {}).get("correlation_id") if isinstance(body, dict) else None
        with correlation_scope(correlation_id or msg.correlation_id):
            if deliveries > cfg.max_deliveries:
                await self._dead_letter(msg, body, entry_id, deliveries, reason="max_deliveries")
                return
            started = time.perf_counter()
            try:
                event = self._parse(body)
                after_commit = await asyncio.to_thread(self._handle_in_transaction, event)
            except PoisonMessage as exc:
                await self._record_error(entry_id, exc)
                await self._dead_letter(msg, body, entry_id, deliveries, reason="poison")
                return
            except Exception as exc:
                EVENTS_CONSUMED.labels(cfg.group, cfg.stream, "failed").inc()
                await self._record_error(entry_id, exc)
                log.warning(
                    "event_handling_failed", stream=cfg.stream, group=cfg.group, entry_id=entry_id,
                    deliveries=deliveries, error=type(exc).__name__, detail=str(exc)[:200],
                )
                return  # left pending: the claimer retries it after claim_idle_ms
            EVENT_HANDLE_SECONDS.labels(cfg.group, cfg.stream).observe(time.perf_counter() - started)
            await msg.ack()
            if after_commit is _DUPLICATE:
                EVENTS_CONSUMED.labels(cfg.group, cfg.stream, "duplicate").inc()
                log.info("event_duplicate_skipped", stream=cfg.stream, group=cfg.group, event_id=str(event.event_id))
                return
            EVENTS_CONSUMED.labels(cfg.group, cfg.stream, "processed").inc()
            log.info("event_handled", stream=cfg.stream, group=cfg.group, event_type=event.event_type,
                     event_id=str(event.event_id), deliveries=deliveries,
                     duration_ms=round((time.perf_counter() - started) * 1000, 1))
            if deliveries > 1:
                await self.redis.hdel(LAST_ERROR_KEY.format(group=cfg.group), entry_id)
            if after_commit is not None:
                try:
                    await after_commit()
                except Exception as exc:  # the effect is committed; a failed nudge is only logged
                    log.warning("after_commit_failed", error=type(exc).__name__)

    def _parse(self, body: Any) -> Event:
        if not isinstance(body, dict):
            raise PoisonMessage("payload is not a JSON object")
        try:
            event = event_from_payload(body)
        except Exception as exc:
            raise PoisonMessage(f"invalid event: {exc}") from exc
        if self.config.accepts and not isinstance(event, self.config.accepts):
            raise PoisonMessage(f"unexpected event type {event.event_type}")
        return event

    def _handle_in_transaction(self, event: Event) -> Any:
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                session.add(
                    ProcessedEvent(
                        consumer_group=self.config.group, event_id=str(event.event_id), stream=self.config.stream
                    )
                )
                session.flush()
            except IntegrityError:
                session.rollback()
                return _DUPLICATE
            try:
                after_commit = self.handler(event, session)
                session.commit()
            except IntegrityError:
                # A concurrent delivery of the same event committed first (PostgreSQL).
                session.rollback()
                if _already_processed(self.engine, self.config.group, str(event.event_id)):
                    return _DUPLICATE
                raise
            except BaseException:
                session.rollback()
                raise
            return after_commit

    async def _record_error(self, entry_id: str, exc: BaseException) -> None:
        try:
            await self.redis.hset(
                LAST_ERROR_KEY.format(group=self.config.group), entry_id, f"{type(exc).__name__}: {exc}"[:500]
            )
        except Exception:  # Redis down: the error is in the logs anyway
            pass

    async def _dead_letter(
        self, msg: RedisStreamMessage, body: Any, entry_id: str, deliveries: int, reason: str
    ) -> None:
        cfg = self.config
        redis = self.redis
        key = LAST_ERROR_KEY.format(group=cfg.group)
        last_error = await redis.hget(key, entry_id)
        raw = msg.body if isinstance(msg.body, bytes) else str(body).encode()
        await redis.xadd(
            self.dead_letter_stream,
            {
                "stream": cfg.stream,
                "group": cfg.group,
                "entry_id": entry_id,
                "deliveries": str(deliveries),
                "reason": reason,
                "error": (last_error or b"").decode() if isinstance(last_error, bytes) else str(last_error or ""),
                "payload": raw,
                "dead_lettered_at": str(time.time()),
            },
            maxlen=100_000,
            approximate=True,
        )
        await msg.ack()
        await redis.hdel(key, entry_id)
        DEAD_LETTERS.labels(cfg.group, cfg.stream, reason).inc()
        EVENTS_CONSUMED.labels(cfg.group, cfg.stream, "dead_lettered").inc()
        log.error("event_dead_lettered", stream=cfg.stream, group=cfg.group, entry_id=entry_id,
                  deliveries=deliveries, reason=reason)


_DUPLICATE = object()


def _already_processed(engine: Engine, group: str, event_id: str) -> bool:
    from sqlmodel import select

    with Session(engine) as session:
        return (
            session.exec(
                select(ProcessedEvent).where(
                    ProcessedEvent.consumer_group == group, ProcessedEvent.event_id == event_id
                )
            ).first()
            is not None
        )


def _entry_id(msg: RedisStreamMessage) -> str:
    ids = msg.raw_message.get("message_ids") or [b"?"]
    first = ids[0]
    return first.decode() if isinstance(first, bytes) else str(first)


def subscribe_reliably(
    broker: RedisBroker,
    redis: Redis,
    engine: Engine,
    *,
    stream: str,
    group: str,
    consumer: str,
    handler: Handler,
    max_deliveries: int = 5,
    claim_idle_ms: int = 30_000,
    polling_interval_ms: int = 100,
    accepts: tuple[type[Event], ...] = (),
) -> ReliableConsumer:
    consumer_obj = ReliableConsumer(
        ConsumerConfig(stream, group, consumer, max_deliveries, claim_idle_ms, polling_interval_ms, accepts),
        engine,
        broker,
        redis,
        handler,
    )
    consumer_obj.register()
    return consumer_obj
