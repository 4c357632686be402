"""Business metrics of the matcher (prefix ``mlp_``, bounded labels: need type and académie name)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS_ROUTED = Counter(
    "mlp_requests_routed_total",
    "Requests handled by the matcher, by outcome (routed, unroutable, outside_pilot, followup, escalated) and "
    "pilot (inside: full routing; outside: sent to the académie's contact)",
    ["outcome", "need", "academie", "pilot"],
)
ROUTING_RECIPIENTS = Histogram(
    "mlp_routing_recipients", "Assignments (RBEs) per routed request", buckets=(0, 1, 2, 3, 4, 5, 8),
)
ROUTING_DELAY_SECONDS = Histogram(
    "mlp_routing_delay_seconds", "From the request's submission to its routing decision",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
)
ROUTING_DECISION_SECONDS = Histogram(
    "mlp_routing_decision_seconds", "Time to compute one routing decision (in memory)",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
)
CATALOG_SNAPSHOT_LYCEES = Gauge("mlp_matcher_catalog_lycees", "Lycées in the matcher's read model")
CATALOG_SNAPSHOT_AGE = Gauge(
    "mlp_matcher_catalog_loaded_timestamp_seconds", "When the matcher last loaded a catalog snapshot"
)
CATALOG_REFRESHES = Counter("mlp_matcher_catalog_refreshes_total", "Snapshot loads by source", ["source", "outcome"])
REVIEW_ACTIONS = Counter(
    "mlp_review_actions_total", "Académie referents' actions on requests (back-office), by action and outcome "
    "(done, replayed: the same idempotency key again, conflict: another referent acted first, refused)",
    ["action", "outcome"],
)
