"""Composition root of the matcher: runtime, catalog read model, stream subscribers, routes."""

from __future__ import annotations

from fastapi import FastAPI

from services.matcher.api import router
from services.matcher.catalog_client import ReadModelHolder, keep_fresh
from services.matcher.config import MatcherSettings
from services.matcher.handlers import MatcherHandlers
from services.matcher.migrations import SCHEMA
from shared.platform.logging import get_logger
from shared.platform.pilot_live import LivePilot
from shared.platform.service import ServiceRuntime, build_runtime, create_service_app
from shared.reference.pilot import parse_pilot_from_data

NAME = "matcher"

log = get_logger(__name__)


def create_app(settings: MatcherSettings | None = None) -> FastAPI:
    settings = MatcherSettings.from_any(settings)
    runtime = build_runtime(NAME, settings, SCHEMA)
    holder = ReadModelHolder()
    handlers = MatcherHandlers(holder, settings)
    # Routing follows the in_pilot that intake stamped on each request; the preview, which has no request,
    # asks the live pilot, so it never shows lycées that a request from outside the pilot would not reach.
    pilot = LivePilot(parse_pilot_from_data(settings.pilot_academies, settings.data_dir), settings.data_dir)
    runtime.subscribe(handlers.subscriptions())

    async def catalog_read_model(rt: ServiceRuntime) -> None:
        await keep_fresh(holder, settings.catalog_url, settings.snapshot_cache_path,
                         settings.catalog_refresh_debounce_s)

    app = create_service_app(
        runtime, title="MonLycéePro — routage (matcher)",
        description="Route chaque demande d'entreprise vers les bons référents (RBE), explique chaque choix.",
        background=[catalog_read_model, pilot.task(settings.pilot_refresh_s)],
        ready_checks={"catalogue": lambda: holder.model is not None},
    )
    app.state.holder = holder
    app.state.pilot = pilot
    app.include_router(router)
    return app
