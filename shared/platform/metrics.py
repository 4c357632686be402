"""Prometheus metrics shared by every service (prefix ``mlp_``, bounded labels only)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Streams: consuming
EVENTS_CONSUMED = Counter(
    "mlp_events_consumed_total",
    "Stream entries handled by a consumer group, by outcome",
    ["group", "stream", "outcome"],  # outcome: processed, duplicate, failed, dead_lettered
)
EVENT_HANDLE_SECONDS = Histogram(
    "mlp_event_handle_seconds",
    "Time to handle one stream entry (transaction included)",
    ["group", "stream"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
EVENT_BATCH_SIZE = Histogram(
    "mlp_event_batch_size",
    "Entries read together by a consumer (handled in one transaction when more than one)",
    ["group", "stream"],
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
DEAD_LETTERS = Counter(
    "mlp_dead_letters_total", "Entries moved to a dead-letter stream", ["group", "stream", "reason"]
)

# Streams: publishing
OUTBOX_PUBLISHED = Counter("mlp_outbox_published_total", "Outbox events published to Redis", ["service", "stream"])
OUTBOX_PUBLISH_ERRORS = Counter("mlp_outbox_publish_errors_total", "Failed outbox publish attempts", ["service"])
# Where DbThreads.run_write ran a hot SQLite write: on the event loop, or on a thread because the write
# lock was taken (another process or thread was writing). Many "thread" means contention on the file.
DB_WRITES = Counter("mlp_db_writes_total", "Hot SQLite writes, by where they ran (loop, thread)", ["pool", "ran_on"])

# Pipeline state read at scrape time (see shared.platform.observability)
STREAM_LENGTH = Gauge("mlp_stream_length", "Entries in a Redis stream", ["stream"])
GROUP_LAG = Gauge("mlp_stream_group_lag", "Entries not yet delivered to a consumer group", ["stream", "group"])
GROUP_PENDING = Gauge("mlp_stream_group_pending", "Entries delivered but not acknowledged", ["stream", "group"])
GROUP_OLDEST_PENDING_AGE = Gauge(
    "mlp_stream_group_oldest_pending_age_seconds", "Age of the oldest pending entry", ["stream", "group"]
)
DEAD_LETTER_LENGTH = Gauge("mlp_dead_letter_stream_length", "Entries in a dead-letter stream", ["group"])
OUTBOX_BACKLOG = Gauge("mlp_outbox_backlog", "Outbox rows not yet published", ["service"])
STREAM_TRIMMED = Counter(
    "mlp_stream_entries_trimmed_total", "Stream entries removed by the retention trim (shared.platform.stream_retention)",
    ["stream"],
)
HOUSEKEEPING_DELETED = Counter(
    "mlp_housekeeping_deleted_total", "Published outbox rows and processed-event keys purged", ["service", "table"]
)
OUTBOX_OLDEST_AGE = Gauge("mlp_outbox_oldest_unpublished_age_seconds", "Age of the oldest unpublished row", ["service"])
OUTBOX_NOT_IN_STREAM = Gauge(
    "mlp_outbox_published_not_in_stream",
    "Outbox rows marked published that their stream cannot hold (published before its first entry): "
    "events lost with Redis's data, to republish with `monlyceepro replay` (shared.platform.replay)",
    ["service"],
)

# HTTP
HTTP_REQUESTS = Counter("mlp_http_requests_total", "HTTP requests", ["service", "route", "method", "status"])
HTTP_SECONDS = Histogram(
    "mlp_http_request_duration_seconds",
    "HTTP request latency",
    ["service", "route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
