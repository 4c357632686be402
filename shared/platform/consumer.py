"""Reliable consumption of a Redis stream by one consumer group.

Each call to :func:`subscribe_reliably` registers two faststream subscribers on the broker:

* the **main** subscriber reads new entries (``>``) in batches of up to ``batch_size`` under a
  consumer name that is stable across restarts (``<group>-<instance>``). A batch is handled in
  one transaction (see :mod:`shared.platform.processing`); if it fails, its events are retried one
  transaction each, so only the failing event stays pending;
* the **claimer** takes back, one at a time, entries that stayed pending longer than
  ``claim_idle_ms`` (a consumer crashed after reading, or the handler failed): faststream never
  re-reads a failed entry by itself.

Before handling a claimed entry, its delivery count is read from the PEL; past ``max_deliveries``
the entry is copied, with its last error, to ``mlp.deadletter.<group>`` and acknowledged. An
entry whose payload cannot be parsed goes there at once: no retry would fix it.

The handler is a plain function ``handler(event, session)`` run inside the transaction that
stores the event's ``ProcessedEvent`` key, so a redelivered event has no second effect. It may
return an async callable, run only after the commit (side effects leave after commit).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from faststream import AckPolicy
from faststream.redis import RedisBroker
from faststream.redis.annotations import RedisBatchStreamMessage, RedisStreamMessage
from redis.asyncio import Redis
from sqlalchemy import Engine

from shared.contracts.events import Event, event_from_payload
from shared.platform.consumer_groups import register_group
from shared.platform.deadletter import dead_letter, forget_error, record_error
from shared.platform.faststream_wire import (
    DATA_FIELD,
    StreamSubscription,
    entry_body,
    undecoded,
    unparsed_batch,
)
from shared.platform.logging import correlation_scope, get_logger
from shared.platform.metrics import EVENT_BATCH_SIZE, EVENT_HANDLE_SECONDS, EVENTS_CONSUMED
from shared.platform.processing import DUPLICATE, AfterCommit, Handler, handle_batch, handle_one

log = get_logger(__name__)

@dataclass(frozen=True)
class Subscription:
    """One stream a service reads, the one event type it carries, and the plain handler(event, session)."""

    stream: str
    event_type: type[Event]
    handler: Handler


class PoisonMessage(Exception):
    """The entry can never be handled (bad payload, wrong type): dead-letter it at once."""


@dataclass
class ConsumerConfig:
    stream: str
    group: str
    consumer: str
    max_deliveries: int = 5
    claim_idle_ms: int = 30_000
    polling_interval_ms: int = 1000  # XREADGROUP's BLOCK: an entry ends it at once
    accepts: tuple[type[Event], ...] = ()
    batch_size: int = 64


@dataclass
class Entry:
    """One stream entry of a delivery: its id, decoded body, raw bytes (for the dead letter)."""

    entry_id: str
    body: Any
    raw: bytes
    event: Event | None = None


class ReliableConsumer:
    def __init__(
        self, config: ConsumerConfig, engine: Engine, broker: RedisBroker, redis: Redis, handler: Handler
    ) -> None:
        self.config = config
        self.redis = redis
        self.engine = engine
        self.broker = broker
        self.handler = handler

    # The metric children of every delivery, looked up once: labels() takes a lock and builds a key on
    # each call. Lazily, so a consumer that never handles anything shows no series.
    @cached_property
    def _batch_sizes(self) -> Any:
        return EVENT_BATCH_SIZE.labels(self.config.group, self.config.stream)

    @cached_property
    def _handle_seconds(self) -> Any:
        return EVENT_HANDLE_SECONDS.labels(self.config.group, self.config.stream)

    @cached_property
    def _processed(self) -> Any:
        return EVENTS_CONSUMED.labels(self.config.group, self.config.stream, "processed")

    # -- registration --------------------------------------------------------
    def register(self) -> None:
        cfg = self.config
        register_group(self.broker, cfg.stream, cfg.group)
        main = StreamSubscription(
            cfg.stream, group=cfg.group, consumer=cfg.consumer, polling_interval=cfg.polling_interval_ms,
            batch=True, max_records=cfg.batch_size,
        )
        claimer = StreamSubscription(
            cfg.stream,
            group=cfg.group,
            consumer=f"{cfg.consumer}-claimer",
            min_idle_time=cfg.claim_idle_ms,
            # XAUTOCLAIM does not block: faststream sleeps this long when nothing is due. Half the idle time
            # a pending entry must reach, so a crashed consumer's entries move on soon after they qualify.
            polling_interval=max(50, min(cfg.claim_idle_ms // 2, 1000)),
        )
        title = f"{cfg.group}:{cfg.stream}:{cfg.consumer}"
        self.broker.subscriber(stream=main, ack_policy=AckPolicy.MANUAL, title=title, parser=unparsed_batch,
                               decoder=undecoded)(self._on_batch)
        title = f"{cfg.group}:{cfg.stream}:{claimer.consumer}"
        self.broker.subscriber(stream=claimer, ack_policy=AckPolicy.MANUAL, title=title)(self._on_claimed)

    # -- delivery ------------------------------------------------------------
    def _message(self) -> Any:
        # Read from the broker's context rather than declared as a handler parameter: faststream
        # resolves a declared message with a sync function on a worker thread, a thread hop and
        # a task group per delivery, which cost more than handling a small event.
        return self.broker.context.get_local("message")

    async def _on_batch(self, _: Any) -> None:
        """New entries (first delivery): handled together; a failure falls back to one by one."""
        msg: RedisBatchStreamMessage = self._message()
        raw = msg.raw_message
        entries = [
            Entry(_decode_id(entry_id), entry_body(fields), fields.get(DATA_FIELD, b"") if isinstance(fields, dict) else b"")
            for entry_id, fields in zip(raw["message_ids"], raw["data"], strict=True)
        ]
        self._batch_sizes.observe(len(entries))
        valid: list[Entry] = []
        for entry in entries:
            try:
                entry.event = self._parse(entry.body)
                valid.append(entry)
            except PoisonMessage as exc:
                with correlation_scope(_correlation_of(entry.body)):
                    await self._record_error(entry.entry_id, exc)
                    await self._dead_letter(entry, deliveries=1, reason="poison")
        if len(valid) == 1:
            await self._handle_single(valid[0], deliveries=1)
        elif valid:
            await self._handle_together(valid)

    async def _on_claimed(self, body: Any) -> None:
        """An entry left pending (crash or failure), retried alone until ``max_deliveries``."""
        msg: RedisStreamMessage = self._message()
        entry = Entry(_decode_id((msg.raw_message.get("message_ids") or [b"?"])[0]), body,
                      msg.body if isinstance(msg.body, bytes) else str(body).encode())
        deliveries = await msg.get_delivery_count()
        with correlation_scope(_correlation_of(body) or msg.correlation_id):
            if deliveries > self.config.max_deliveries:
                await self._dead_letter(entry, deliveries, reason="max_deliveries")
                return
            try:
                entry.event = self._parse(body)
            except PoisonMessage as exc:
                await self._record_error(entry.entry_id, exc)
                await self._dead_letter(entry, deliveries, reason="poison")
                return
        await self._handle_single(entry, deliveries)

    # -- handling ------------------------------------------------------------
    async def _handle_single(self, entry: Entry, deliveries: int) -> None:
        cfg = self.config
        assert entry.event is not None
        with correlation_scope(entry.event.correlation_id):
            started = time.perf_counter()
            try:
                outcome = await asyncio.to_thread(handle_one, self.engine, cfg.group, cfg.stream, self.handler,
                                                  entry.event)
            except Exception as exc:
                EVENTS_CONSUMED.labels(cfg.group, cfg.stream, "failed").inc()
                await self._record_error(entry.entry_id, exc)
                log.warning(
                    "event_handling_failed", stream=cfg.stream, group=cfg.group, entry_id=entry.entry_id,
                    deliveries=deliveries, error=type(exc).__name__, detail=str(exc)[:200],
                )
                return  # left pending: the claimer retries it after claim_idle_ms
            elapsed = time.perf_counter() - started
            await self.redis.xack(cfg.stream, cfg.group, entry.entry_id)
            if deliveries > 1:
                await forget_error(self.redis, cfg.group, entry.entry_id)
            self._account(entry, outcome, elapsed, deliveries, batch_size=1)
        await _run_after_commit([(outcome, entry.event.correlation_id)])

    async def _handle_together(self, entries: list[Entry]) -> None:
        cfg = self.config
        started = time.perf_counter()
        try:
            outcomes = await asyncio.to_thread(handle_batch, self.engine, cfg.group, cfg.stream, self.handler,
                                               [_parsed(e) for e in entries])
        except Exception as exc:
            log.info("event_batch_split", stream=cfg.stream, group=cfg.group, size=len(entries),
                     error=type(exc).__name__)
            for entry in entries:
                await self._handle_single(entry, deliveries=1)
            return
        share = (time.perf_counter() - started) / len(entries)
        await self.redis.xack(cfg.stream, cfg.group, *[e.entry_id for e in entries])
        for entry, outcome in zip(entries, outcomes, strict=True):
            assert entry.event is not None
            with correlation_scope(entry.event.correlation_id):
                self._account(entry, outcome, share, deliveries=1, batch_size=len(entries))
        await _run_after_commit([(o, e.event.correlation_id) for o, e in zip(outcomes, entries, strict=True)
                                 if e.event is not None])

    def _account(self, entry: Entry, outcome: Any, seconds: float, deliveries: int, batch_size: int) -> None:
        cfg = self.config
        event = entry.event
        assert event is not None
        if outcome is DUPLICATE:
            EVENTS_CONSUMED.labels(cfg.group, cfg.stream, "duplicate").inc()
            log.info("event_duplicate_skipped", stream=cfg.stream, group=cfg.group, event_id=str(event.event_id))
            return
        self._handle_seconds.observe(seconds)
        self._processed.inc()
        log.info("event_handled", stream=cfg.stream, group=cfg.group, event_type=event.event_type,
                 event_id=str(event.event_id), deliveries=deliveries, batch_size=batch_size,
                 duration_ms=round(seconds * 1000, 1))

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

    async def _record_error(self, entry_id: str, exc: BaseException) -> None:
        await record_error(self.redis, self.config.group, entry_id, exc)

    async def _dead_letter(self, entry: Entry, deliveries: int, reason: str) -> None:
        await dead_letter(self.redis, self.config.stream, self.config.group, entry.entry_id, entry.raw,
                          deliveries, reason)


async def _run_after_commit(outcomes: list[tuple[Any, str]]) -> None:
    """Each distinct after-commit callable once (a batch often returns the same nudge many times),
    under the correlation id of the event that returned it."""
    done: list[AfterCommit] = []
    for outcome, correlation_id in outcomes:
        if outcome is None or outcome is DUPLICATE or outcome in done:
            continue
        done.append(outcome)
        with correlation_scope(correlation_id):
            try:
                await outcome()
            except Exception as exc:  # the effect is committed; a failed nudge is only logged
                log.warning("after_commit_failed", error=type(exc).__name__)


def _parsed(entry: Entry) -> Event:
    """The event of an entry handled past parsing (poison entries went to the dead letters)."""
    assert entry.event is not None
    return entry.event


def _correlation_of(body: Any) -> str | None:
    return body.get("data", {}).get("correlation_id") if isinstance(body, dict) else None


def _decode_id(entry_id: Any) -> str:
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


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
    polling_interval_ms: int = 1000,
    accepts: tuple[type[Event], ...] = (),
    batch_size: int = 64,
) -> ReliableConsumer:
    consumer_obj = ReliableConsumer(
        ConsumerConfig(stream, group, consumer, max_deliveries, claim_idle_ms, polling_interval_ms, accepts,
                       batch_size),
        engine,
        broker,
        redis,
        handler,
    )
    consumer_obj.register()
    return consumer_obj
