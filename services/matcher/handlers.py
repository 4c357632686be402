"""Stream handlers (thin): each runs inside the reliable consumer's transaction and never commits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlmodel import Session

from services.matcher import metrics
from services.matcher.catalog_client import ReadModelHolder
from services.matcher.config import MatcherSettings
from services.matcher.service import flows
from shared.contracts.events import (
    AssignmentChanged,
    CatalogChanged,
    RequestErased,
    RequestSubmitted,
    Streams,
)
from shared.platform.consumer import Subscription
from shared.platform.logging import get_logger

log = get_logger(__name__)

AfterCommit = Callable[[], Awaitable[None]]


def _record(outcome: flows.Outcome) -> AfterCommit:
    async def after_commit() -> None:
        if outcome.outcome == "skipped":
            return
        metrics.REQUESTS_ROUTED.labels(outcome.outcome, outcome.need, outcome.academie,
                                       "inside" if outcome.in_pilot else "outside").inc()
        if outcome.outcome in ("routed", "unroutable", "outside_pilot"):
            metrics.ROUTING_RECIPIENTS.observe(outcome.recipients)
        if outcome.delay_s is not None:
            metrics.ROUTING_DELAY_SECONDS.observe(outcome.delay_s)
        if outcome.decision_s is not None:
            metrics.ROUTING_DECISION_SECONDS.observe(outcome.decision_s)
        log.info("request_handled", outcome=outcome.outcome, recipients=outcome.recipients)

    return after_commit


class MatcherHandlers:
    def __init__(self, holder: ReadModelHolder, settings: MatcherSettings) -> None:
        self.holder = holder
        self.settings = settings

    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription(Streams.REQUEST_SUBMITTED, RequestSubmitted, self.on_request_submitted),
            Subscription(Streams.ASSIGNMENT_CHANGED, AssignmentChanged, self.on_assignment_changed),
            Subscription(Streams.REQUEST_ERASED, RequestErased, self.on_request_erased),
            Subscription(Streams.CATALOG_CHANGED, CatalogChanged, self.on_catalog_changed),
        ]

    def on_request_submitted(self, event: RequestSubmitted, session: Session) -> AfterCommit:
        model = self.holder.wait(self.settings.snapshot_wait_s)
        return _record(flows.route_submitted(session, event, model, self.settings))

    def on_assignment_changed(self, event: AssignmentChanged, session: Session) -> AfterCommit:
        return _record(flows.escalate(session, event, self.holder.model, self.settings))

    def on_request_erased(self, event: RequestErased, session: Session) -> None:
        flows.erase(session, event)

    def on_catalog_changed(self, event: CatalogChanged, session: Session) -> AfterCommit:
        holder = self.holder

        async def refresh() -> None:
            holder.request_refresh()

        return refresh
