"""Intake's business metrics (prefix ``mlp_``, bounded labels only)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS_RECEIVED = Counter(
    "mlp_requests_received_total", "Company requests accepted (request row + outbox event committed)", ["channel"]
)
REQUESTS_REJECTED = Counter(
    "mlp_requests_rejected_total", "Company requests refused, by reason", ["channel", "reason"]
)
ACCEPT_BATCH_SIZE = Histogram(
    "mlp_intake_accept_batch_size", "Company requests written in one transaction (group commit of concurrent accepts)",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
REQUESTS_ERASED = Counter("mlp_requests_erased_total", "Requests whose personal data was erased", ["reason"])

REJECTION_REASONS = ("validation", "honeypot", "too_fast", "expired_form", "rate_limited", "too_large",
                     "idempotency_conflict")
CHANNELS = ("form", "api")


def rejected(channel: str, reason: str) -> None:
    REQUESTS_REJECTED.labels(channel if channel in CHANNELS else "api",
                             reason if reason in REJECTION_REASONS else "validation").inc()


def received(channel: str) -> None:
    REQUESTS_RECEIVED.labels(channel).inc()
