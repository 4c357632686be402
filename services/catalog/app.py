"""Composition root of the catalog service (port 8002)."""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import FastAPI

from services.catalog.api import router as api_router
from services.catalog.migrations import SCHEMA
from services.catalog.state import CatalogState, watch_version
from shared.platform.service import ServiceRuntime, build_runtime, create_service_app
from shared.platform.settings import Settings
from shared.platform.web import mount_dsfr

NAMING_MAIL_INTERVAL_S = 60.0
NAMING_PURGE_EVERY = 24 * 60  # turns of the naming mail loop: once a day
DESCRIPTION = (
    "Catalogue des lycées professionnels : formations, métiers, contacts des bureaux des entreprises. "
    "Sert l'instantané lu par le matcher, la recherche publique et l'espace RBE."
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = Settings.from_any(settings)
    runtime = build_runtime("catalog", settings, SCHEMA)
    state = CatalogState(runtime.engine, settings.fallback_email, settings.catalog_public_url)

    async def build_index(_: ServiceRuntime) -> None:
        await runtime.run_db(state.refresh)
        await watch_version(state, runtime.run_db)

    async def naming_mail(_: ServiceRuntime) -> None:
        # The safety net of the naming flow's emails: a page queues them and sends them after its commit;
        # what a crash or an SMTP outage left pending leaves here.
        from services.catalog.rbe_naming_pages import send_naming_mail
        from services.catalog.tasks import purge_rbe_naming

        turns = 0
        while True:
            await asyncio.sleep(NAMING_MAIL_INTERVAL_S)
            await send_naming_mail(runtime)
            if turns % NAMING_PURGE_EVERY == 0:  # the retention limit of the naming flow's personal data
                with contextlib.suppress(Exception):
                    await runtime.run_db(purge_rbe_naming, runtime.engine)
            turns += 1

    # Not ready before the search index is built: the first requests would otherwise wait for the build
    # (seconds), past the timeout of intake's « Nous avons compris » call.
    app = create_service_app(runtime, title="MonLycéePro — catalogue", description=DESCRIPTION, background=[build_index, naming_mail],
                             ready_checks={"index": state.is_built})
    app.state.catalog = state
    app.include_router(api_router)
    from services.catalog.backoffice import router as backoffice_router
    from services.catalog.pages import router as pages_router
    from services.catalog.rbe_naming_pages import router as naming_router
    from services.catalog.rbe_profile import router as rbe_profile_router
    from services.catalog.rbe_space import router as rbe_router

    app.include_router(pages_router)
    app.include_router(rbe_router)
    app.include_router(backoffice_router)
    app.include_router(rbe_profile_router)
    app.include_router(naming_router)
    mount_dsfr(app)
    return app
