"""Stream handlers (thin): each runs in the consumer's transaction and only writes rows;
the sender and the outbox relay are nudged after the commit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlmodel import Session

from services.notifier.service import followups, rbe_changes, threads
from services.notifier.service.mailer import NotifierContext
from shared.contracts.events import CatalogChanged, RequestErased, RequestFollowUp, RequestRouted, Streams
from shared.platform.consumer import Subscription

AfterCommit = Callable[[], Awaitable[None]]


class NotifierHandlers:
    def __init__(self, ctx: NotifierContext, after_commit: AfterCommit) -> None:
        self.ctx = ctx
        self.after_commit = after_commit

    def on_routed(self, event: RequestRouted, session: Session) -> AfterCommit:
        if event.kind == "escalation":
            threads.escalate(session, self.ctx, event)
        else:
            threads.start_thread(session, self.ctx, event)
        return self.after_commit

    def on_followup(self, event: RequestFollowUp, session: Session) -> AfterCommit:
        followups.follow_up(session, self.ctx, event)
        return self.after_commit

    def on_erased(self, event: RequestErased, session: Session) -> None:
        threads.erase(session, self.ctx, event)

    def on_catalog_changed(self, event: CatalogChanged, session: Session) -> AfterCommit | None:
        if event.change != "rbe" or not event.rbe_changes:
            return None
        return self.after_commit if rbe_changes.join_new_rbe(session, self.ctx, event) else None

    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription(Streams.REQUEST_ROUTED, RequestRouted, self.on_routed),
            Subscription(Streams.REQUEST_FOLLOWUP, RequestFollowUp, self.on_followup),
            Subscription(Streams.REQUEST_ERASED, RequestErased, self.on_erased),
            Subscription(Streams.CATALOG_CHANGED, CatalogChanged, self.on_catalog_changed),
        ]
