"""Intake's business metrics (prefix ``mlp_``, bounded labels only)."""

from __future__ import annotations

import time

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import Engine

REQUESTS_RECEIVED = Counter(
    "mlp_requests_received_total", "Company requests accepted (request row + outbox event committed), by channel "
    "and pilot (inside: the académie has full routing; outside: sent to the académie's contact)", ["channel", "pilot"]
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


def received(channel: str, in_pilot: bool = True) -> None:
    REQUESTS_RECEIVED.labels(channel, "inside" if in_pilot else "outside").inc()
class ImpactGauge:
    """The impact figures for ops, read from the database at scrape (cached ``CACHE_S``), over the last
    12 months, exact (no « moins de 5 »: ops are not the public), labelled by académie only (never a
    company or a lycée): ``mlp_impact_requests_routed``, ``mlp_impact_interactions``,
    ``mlp_impact_joint_actions{kind}``, and ``mlp_impact_answer_rate`` and
    ``mlp_impact_first_answer_median_hours`` (these two also with ``academie="all"``, the whole country,
    since neither adds up across académies); ``mlp_impact_interactions_by_need{need}``,
    ``mlp_impact_interactions_by_source{source}``, ``mlp_impact_joint_actions_by_source{source, kind}``.
    See docs/impact.md."""

    CACHE_S = 60.0
    PERIOD = "12m"

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self._cached: tuple[Engine, float, dict] | None = None  # per engine: an app replaced in-process

    def describe(self):
        return []

    def _figures(self) -> dict:
        from sqlmodel import Session

        from services.intake.service import impact

        engine = self.engine
        if self._cached is not None and self._cached[0] is engine and time.monotonic() - self._cached[1] < self.CACHE_S:
            return self._cached[2]
        with Session(engine) as session:
            figures = impact.ops_figures(session, self.PERIOD)
        if engine is not None:
            self._cached = (engine, time.monotonic(), figures)
        return figures

    def collect(self):
        def gauge(name: str, help_text: str, *labels: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, help_text + " (requests of the last 12 months)", labels=list(labels))

        routed = gauge("mlp_impact_requests_routed", "Requests routed to a lycée", "academie")
        interactions = gauge("mlp_impact_interactions", "Requests with a human answer from a lycée", "academie")
        actions = gauge("mlp_impact_joint_actions", "Joint actions declared, by kind", "academie", "kind")
        rate = gauge("mlp_impact_answer_rate", "Interactions / requests routed (0-1)", "academie")
        median = gauge("mlp_impact_first_answer_median_hours", "Median hours to the first human answer", "academie")
        by_need = gauge("mlp_impact_interactions_by_need", "Requests with a human answer, by need", "need")
        by_source = gauge("mlp_impact_interactions_by_source", "Requests with a human answer, by source", "source")
        actions_by_source = gauge("mlp_impact_joint_actions_by_source", "Joint actions, by source and kind",
                                  "source", "kind")
        figures: dict[str, dict[str, dict]] = {}
        if self.engine is not None:
            try:
                figures = self._figures()
            except Exception:
                figures = {}
        for academie, m in figures.get("academie", {}).items():
            if academie != "all":
                routed.add_metric([academie], m["routed"])
                interactions.add_metric([academie], m["interactions"])
                for kind, count in m["actions"].items():
                    actions.add_metric([academie, kind], count)
            if m["answer_rate"] is not None:
                rate.add_metric([academie], m["answer_rate"])
            if m["median_hours_to_first_answer"] is not None:
                median.add_metric([academie], m["median_hours_to_first_answer"])
        for need, m in figures.get("need", {}).items():
            by_need.add_metric([need], m["interactions"])
        for source, m in figures.get("source", {}).items():
            by_source.add_metric([source], m["interactions"])
            for kind, count in m["actions"].items():
                actions_by_source.add_metric([source, kind], count)
        yield from (routed, interactions, actions, rate, median, by_need, by_source, actions_by_source)


IMPACT = ImpactGauge()
REGISTRY.register(IMPACT)
