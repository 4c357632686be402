"""Republish, after a loss of Redis's data, the events a service's outbox published since a time.

Redis keeps the streams; each service's ``outbox_event`` table keeps a copy of every event it
published for ``MLP_OUTBOX_KEEP_DAYS`` (``shared.platform.housekeeping``). When Redis loses its
data (FLUSHALL, a failover to a replica without persistence, a restored older snapshot), the
entries that were in flight (published, not yet read or acknowledged by a group) are gone; the
outbox still holds them. :func:`replay_outbox` publishes those rows again, in outbox order, on
their own stream, with the same payload (same ``event_id``) and correlation id, in the same
faststream framing as the relay. Consumers store a ``processed_event`` key per event: a replayed
event that had been handled is acknowledged as a duplicate with no effect, one that was lost is
handled once.

An event whose ``event_id`` is still on its stream (published again by the relay after the loss,
or by an earlier replay) is not published a second time.

When the replay is done, the oldest time it covered is recorded per stream in the Redis hash
``mlp:outbox:replayed_since`` (lowered, never raised): the stream/outbox comparison
(``published_not_in_stream``, the gauge ``mlp_outbox_published_not_in_stream``) then knows the
stream holds again everything published since then. A later loss of Redis takes the hash with it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from faststream.redis import RedisBroker
from faststream.redis.parser.binary import BinaryMessageFormatV1
from redis import Redis
from redis.exceptions import ResponseError
from sqlalchemy import Engine, bindparam, func, select

from shared.contracts.events import Streams
from shared.platform.clock import utcnow
from shared.platform.logging import get_logger
from shared.platform.outbox import OutboxEvent

log = get_logger(__name__)

REPLAYED_SINCE_KEY = "mlp:outbox:replayed_since"
# How far a stream entry's id (Redis's clock, at XADD) may be ahead of the row's ``published_at``
# (the service's clock, at the mark, after the XADD) when both clocks are a little apart.
CLOCK_SLACK_S = 5.0
PUBLISH_BATCH = 500
_OUTBOX = OutboxEvent.__table__  # type: ignore[attr-defined]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|j)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "j": 86400}


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """``2h``, ``30m``, ``90s``, ``1d`` (before now) or an ISO 8601 date-time (UTC when it has
    no offset) -> an aware UTC datetime. Raises ValueError otherwise."""
    now = now or utcnow()
    match = _DURATION.match(text)
    if match:
        amount, unit = float(match.group(1)), match.group(2).lower()
        return now - timedelta(seconds=amount * _UNIT_SECONDS[unit])
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"« {text} » n'est ni une durée (2h, 30m, 1d) ni une date ISO 8601") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment > now:
        raise ValueError(f"« {text} » est dans le futur")
    return moment.astimezone(UTC)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def event_ids_on_stream(redis: Redis, stream: str, since_ms: int) -> set[str]:
    """The event ids of the entries of ``stream`` added since ``since_ms`` (faststream framing)."""
    found: set[str] = set()
    start = f"{max(0, since_ms)}-0"
    while True:
        entries = redis.xrange(stream, min=start, max="+", count=1000) or []
        for _, fields in entries:
            raw = (fields or {}).get(b"__data__", b"")
            if not isinstance(raw, bytes):
                continue
            try:
                data, _ = BinaryMessageFormatV1.parse(raw)
                event_id = json.loads(data)["data"]["event_id"]
            except Exception:  # not one of ours (a test, a manual XADD): it cannot hide a lost event
                continue
            found.add(str(event_id))
        if len(entries) < 1000:
            return found
        last = entries[-1][0].decode() if isinstance(entries[-1][0], bytes) else str(entries[-1][0])
        start = "(" + last


@dataclass
class ReplayReport:
    service: str
    since: datetime
    published: dict[str, int] = field(default_factory=dict)  # per stream
    already_on_stream: dict[str, int] = field(default_factory=dict)
    oldest_kept: datetime | None = None  # the oldest published row still in the outbox

    @property
    def total(self) -> int:
        return sum(self.published.values())


_ROWS = (
    select(_OUTBOX.c.id, _OUTBOX.c.event_id, _OUTBOX.c.stream, _OUTBOX.c.correlation_id, _OUTBOX.c.payload)
    .where(_OUTBOX.c.published_at.is_not(None), _OUTBOX.c.published_at >= bindparam("since"),
           _OUTBOX.c.id > bindparam("after"))
    .order_by(_OUTBOX.c.id)
    .limit(bindparam("limit"))
)


async def replay_outbox(
    engine: Engine, broker: RedisBroker, redis: Redis, *, service: str, since: datetime, maxlen: int,
    dry_run: bool = False,
) -> ReplayReport:
    """Publish again every row of this outbox published since ``since`` (see the module doc).

    ``broker`` is connected; ``redis`` is a synchronous client of the same Redis (reads)."""
    report = ReplayReport(service=service, since=since)
    with engine.connect() as conn:
        oldest = conn.execute(select(func.min(_OUTBOX.c.published_at))).scalar()
        streams = [row[0] for row in conn.execute(select(_OUTBOX.c.stream).distinct())]
    report.oldest_kept = oldest
    present = {stream: event_ids_on_stream(redis, stream, _ms(since) - int(CLOCK_SLACK_S * 1000))
               for stream in streams}
    after = 0
    while True:
        with engine.connect() as conn:
            rows = conn.execute(_ROWS, {"since": since, "after": after, "limit": PUBLISH_BATCH}).all()
        if not rows:
            break
        after = rows[-1].id
        todo = []
        for row in rows:
            if row.event_id in present.get(row.stream, ()):
                report.already_on_stream[row.stream] = report.already_on_stream.get(row.stream, 0) + 1
            else:
                todo.append(row)
                report.published[row.stream] = report.published.get(row.stream, 0) + 1
        if todo and not dry_run:
            connection = broker._connection
            if connection is None:
                raise RuntimeError("broker not connected")
            async with connection.pipeline(transaction=False) as pipe:
                for row in todo:
                    await broker.publish(json.loads(row.payload), stream=row.stream, maxlen=maxlen,
                                         correlation_id=row.correlation_id, pipeline=pipe)
                await pipe.execute()
            for row in todo:
                log.info("event_replayed", stream=row.stream, event_id=row.event_id)
    if not dry_run:
        mark_replayed(redis, streams, since)
        log.info("outbox_replayed", since=since.isoformat(), published=report.total,
                 already_on_stream=sum(report.already_on_stream.values()))
    return report


def mark_replayed(redis: Redis, streams: list[str], since: datetime) -> None:
    """Record that each stream holds again what was published since ``since`` (kept at the lowest)."""
    since_ms = _ms(since)
    for stream in streams:
        current = redis.hget(REPLAYED_SINCE_KEY, stream)
        if current is None or int(current) > since_ms:
            redis.hset(REPLAYED_SINCE_KEY, stream, since_ms)


# -- stream / outbox agreement ------------------------------------------------------------------

_MISSING = (
    select(func.count())
    .select_from(_OUTBOX)
    .where(_OUTBOX.c.stream == bindparam("stream"), _OUTBOX.c.published_at.is_not(None),
           _OUTBOX.c.published_at >= bindparam("window_start"), _OUTBOX.c.published_at < bindparam("before"))
)


def coverage_ms(first_entry_id: bytes | str | None, replayed_since_ms: bytes | str | int | None, now_ms: int) -> int:
    """Since when (ms) a stream holds every entry published to it: its first entry's time, or the
    replay recorded in ``mlp:outbox:replayed_since`` if older; ``now_ms`` if it is empty or gone."""
    coverage = now_ms
    if first_entry_id is not None:
        text = first_entry_id.decode() if isinstance(first_entry_id, bytes) else str(first_entry_id)
        coverage = int(text.split("-")[0])
    if replayed_since_ms is not None:
        coverage = min(coverage, int(replayed_since_ms))
    return coverage


def stream_coverages(redis: Redis, now_ms: int) -> dict[str, int]:
    """:func:`coverage_ms` of every stream of the backbone (synchronous client)."""
    replayed = redis.hgetall(REPLAYED_SINCE_KEY)
    out = {}
    for stream in Streams.ALL:
        try:
            first = redis.xrange(stream, min="-", max="+", count=1)
        except ResponseError:
            first = []
        out[stream] = coverage_ms(first[0][0] if first else None, replayed.get(stream.encode()), now_ms)
    return out


def count_published_not_in_stream(engine: Engine, coverages: dict[str, int], *, keep_days: int,
                                  now: datetime | None = None) -> dict[str, int]:
    """Per stream (only those with some), the outbox rows marked published that the stream cannot
    hold: published before the stream's coverage (:func:`coverage_ms`, minus ``CLOCK_SLACK_S``),
    within the retention both keep (``keep_days``, less an hour so the two trims never race).
    Not 0 after a loss of Redis's data, until ``monlyceepro replay`` republished them; also when
    ``MLP_STREAM_MAXLEN`` cut a stream shorter than its retention (raise it)."""
    now = now or utcnow()
    window_start = now - timedelta(days=keep_days) + timedelta(hours=1)
    out: dict[str, int] = {}
    with engine.connect() as conn:
        for stream, coverage in coverages.items():
            before = datetime.fromtimestamp(coverage / 1000 - CLOCK_SLACK_S, tz=UTC)
            if before <= window_start:  # the stream reaches back past the retention: nothing to count
                continue
            missing = int(conn.execute(_MISSING, {"stream": stream, "window_start": window_start,
                                                  "before": before}).scalar() or 0)
            if missing:
                out[stream] = missing
    return out


def published_not_in_stream(engine: Engine, redis: Redis, *, keep_days: int, now: datetime | None = None,
                            ) -> dict[str, int]:
    """:func:`count_published_not_in_stream` with the coverages read from ``redis`` now."""
    now = now or utcnow()
    return count_published_not_in_stream(engine, stream_coverages(redis, _ms(now)), keep_days=keep_days, now=now)
