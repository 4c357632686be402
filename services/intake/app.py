"""Composition root of the intake service (port 8001): the company's front door."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from fastapi.middleware import Middleware
from fastapi.staticfiles import StaticFiles
from itsdangerous import Signer

from services.intake import api, metrics, pages
from services.intake.campaigns import pages as campaign_pages
from services.intake.config import IntakeSettings
from services.intake.deps import IntakeContext
from services.intake.handlers import SUBSCRIPTIONS
from services.intake.middleware import BodySizeLimit
from services.intake.migrations import SCHEMA
from services.intake.partners import api as partner_api
from services.intake.partners import pages as partner_pages
from services.intake.partners.auth import PartnerContext
from services.intake.partners.cors import PartnerCors
from services.intake.partners.keys import key_secret
from services.intake.partners.openapi import document_partner_keys
from services.intake.partners.registry import refresh_task
from services.intake.service import impact as impact_service
from services.intake.submit_lane import SubmissionLane
from services.intake.tasks import retention_task
from shared.platform.http import install_error_handlers
from shared.platform.pilot_live import LivePilot
from shared.platform.ratelimit import SlidingWindowLimiter
from shared.platform.service import ServiceRuntime, build_runtime, create_service_app
from shared.platform.settings import Settings
from shared.platform.web import make_templates, mount_dsfr
from shared.reference.geo import load_communes
from shared.reference.pilot import parse_pilot_from_data

HERE = Path(__file__).parent
PARIS = ZoneInfo("Europe/Paris")


def french_time(iso: str) -> str:
    """'2026-11-26T07:45:00+00:00' -> '26/11/2026 à 08 h 45' (heure de Paris)."""
    try:
        return datetime.fromisoformat(iso).astimezone(PARIS).strftime("%d/%m/%Y à %H h %M")
    except (TypeError, ValueError):
        return str(iso)


def create_app(settings: Settings | None = None, clock: Callable[[], float] = time.time) -> FastAPI:
    s = IntakeSettings.from_any(settings)
    runtime = build_runtime("intake", s, SCHEMA)
    runtime.subscribe(SUBSCRIPTIONS)
    metrics.IMPACT.engine = runtime.engine
    templates = make_templates(HERE / "templates")
    templates.env.globals.update(intake_url="", catalog_url=s.catalog_public_url.rstrip("/"))
    templates.env.filters["heure"] = french_time
    templates.env.filters["duree"] = impact_service.french_duration
    templates.env.filters["seuil"] = impact_service.count_label

    async def close_context(_: ServiceRuntime) -> None:
        await app.state.intake.close()

    pilot = LivePilot(parse_pilot_from_data(s.pilot_academies, s.data_dir), s.data_dir)
    partners = PartnerContext(secret=key_secret(s.partner_key_secret or s.secret_key),
                              limiter=SlidingWindowLimiter(s.partner_rate_limit, s.partner_rate_limit_window_s))

    app = create_service_app(
        runtime,
        title="MonLycéePro — dépôt des demandes d'entreprises",
        description=(
            "Les entreprises (ou leurs partenaires : Les Entreprises s'Engagent, services publics) déposent ici "
            "leurs demandes aux lycées professionnels, puis les suivent grâce à un lien privé."
        ),
        background=[retention_task(s), refresh_task(partners.registry, s.partner_refresh_s),
                    pilot.task(s.pilot_refresh_s)],
        on_shutdown=[close_context],
    )
    app.state.intake = IntakeContext(
        runtime=runtime, settings=s, communes=load_communes(s.data_dir),
        ip_limiter=SlidingWindowLimiter(s.rate_limit_ip, s.rate_limit_ip_window_s),
        signer=Signer(s.secret_key, salt="intake-form"), templates=templates, pilot=pilot, clock=clock,
    )
    app.state.partners = partners
    install_error_handlers(app, extra_errors=api.rule_errors)
    document_partner_keys(app)
    # Innermost, inside the correlation-and-metrics layer: the direct submission's short path.
    app.user_middleware.append(Middleware(SubmissionLane))
    app.add_middleware(BodySizeLimit, max_bytes=s.max_body_bytes)
    app.add_middleware(PartnerCors, registry=partners.registry)  # outside: a 413 carries CORS headers too
    app.include_router(api.router)
    app.include_router(api.router_v2)
    app.include_router(partner_api.router)
    app.include_router(pages.router)
    app.include_router(campaign_pages.router)
    app.include_router(partner_pages.router)
    mount_dsfr(app)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="intake-static")
    return app
