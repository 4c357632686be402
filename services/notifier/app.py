"""Composition root of the notifier: runtime, stream subscribers, background sender, reminder
loop, inbound SMTP server and the one-click action pages."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from fastapi import FastAPI

from services.notifier import api, metrics, pages
from services.notifier.config import NotifierSettings
from services.notifier.handlers import NotifierHandlers
from services.notifier.inbound_server import InboundHandler, InboundServer, process_pending_inbound
from services.notifier.migrations import SCHEMA
from services.notifier.outcomes import pages as outcome_pages
from services.notifier.sender import OutboundSender
from services.notifier.service.calendar import Clock, system_clock
from services.notifier.service.mailer import NotifierContext
from services.notifier.tasks import outcome_pass, reminder_pass
from shared.platform.logging import get_logger
from shared.platform.service import ServiceRuntime, build_runtime, create_service_app
from shared.platform.settings import Settings
from shared.platform.web import mount_dsfr

log = get_logger(__name__)


@dataclass
class NotifierParts:
    runtime: ServiceRuntime
    ctx: NotifierContext
    sender: OutboundSender
    inbound: InboundServer | None = None
    loop: asyncio.AbstractEventLoop | None = None
    extra: dict = field(default_factory=dict)

    def _wake_now(self) -> None:
        self.runtime.relay.wake()
        self.sender.wake()

    def wake(self) -> None:
        """Nudge the relay and the sender; callable from any thread."""
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self._wake_now)


def create_app(settings: Settings | None = None, clock: Clock = system_clock) -> FastAPI:
    settings = NotifierSettings.from_any(settings)
    runtime = build_runtime("notifier", settings, SCHEMA)
    ctx = NotifierContext(settings=settings, clock=clock)
    parts = NotifierParts(runtime=runtime, ctx=ctx, sender=OutboundSender(runtime.engine, settings, clock))
    metrics.ASSIGNMENTS.engine = runtime.engine
    metrics.ASSIGNMENTS.ctx = ctx
    metrics.OUTBOUND.engine = runtime.engine

    async def after_commit() -> None:
        parts._wake_now()

    runtime.subscribe(NotifierHandlers(ctx, after_commit).subscriptions())

    async def sending(rt: ServiceRuntime) -> None:
        parts.loop = asyncio.get_running_loop()
        await parts.sender.run()

    async def reminders(rt: ServiceRuntime) -> None:
        while True:
            try:
                counts = await rt.run_db(reminder_pass, rt.engine, ctx)
                counts |= await rt.run_db(outcome_pass, rt.engine, ctx)
                if any(counts.values()):
                    parts._wake_now()
            except Exception as exc:
                log.warning("reminder_pass_failed", error=type(exc).__name__)
            await asyncio.sleep(settings.reminders_interval_s)

    async def inbound(rt: ServiceRuntime) -> None:
        if not settings.inbound_enabled:
            return
        handler = InboundHandler(rt.engine, ctx, on_processed=parts.wake)
        server = InboundServer(handler, settings.inbound_smtp_host, settings.inbound_smtp_port)
        try:
            await asyncio.to_thread(server.start)
        except Exception as exc:  # port taken: outbound mail still works, replies wait in the sender's queue
            log.error("inbound_smtp_start_failed", port=settings.inbound_smtp_port, error=type(exc).__name__)
            return
        parts.inbound = server
        log.info("inbound_smtp_started", port=settings.inbound_smtp_port)
        while True:  # messages stored but not processed (crash, database hiccup) are resumed
            with contextlib.suppress(Exception):
                if await rt.run_db(process_pending_inbound, rt.engine, ctx):
                    parts._wake_now()
            await asyncio.sleep(30)

    async def stop_sending(rt: ServiceRuntime) -> None:
        if parts.loop is not None:  # the sender runs: let it finish its pass
            await parts.sender.stop()

    async def stop_inbound(rt: ServiceRuntime) -> None:
        if parts.inbound is not None:
            await asyncio.to_thread(parts.inbound.stop)
            parts.inbound = None

    app = create_service_app(
        runtime, title="MonLycéePro — notifier",
        description="Un fil de courriels coordonné par demande : envoi, réponses par courriel, relances.",
        background=[sending, reminders, inbound], on_drain=[stop_sending], on_shutdown=[stop_inbound],
    )
    app.state.notifier = parts
    app.include_router(pages.router)
    app.include_router(outcome_pages.router)
    app.include_router(api.router)
    mount_dsfr(app)
    return app
