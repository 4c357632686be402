"""Composition root of the intake service (port 8001): the company's front door."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from itsdangerous import Signer
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.intake import api, web
from services.intake.config import intake_settings
from services.intake.context import IntakeContext
from services.intake.handlers import SUBSCRIPTIONS
from services.intake.jobs import retention_task
from services.intake.limits import BodySizeLimit
from services.intake.models import INTAKE_TABLES
from services.intake.ratelimit import SlidingWindowLimiter
from shared.consumer import subscribe_reliably
from shared.geo import load_communes
from shared.service import ServiceRuntime, build_runtime, create_service_app
from shared.settings import Settings
from shared.web import make_templates, mount_dsfr

HERE = Path(__file__).parent
PARIS = ZoneInfo("Europe/Paris")


def french_time(iso: str) -> str:
    """'2026-11-26T07:45:00+00:00' -> '26/11/2026 à 08 h 45' (heure de Paris)."""
    try:
        return datetime.fromisoformat(iso).astimezone(PARIS).strftime("%d/%m/%Y à %H h %M")
    except (TypeError, ValueError):
        return str(iso)


HTTP_MESSAGES = {400: "Le corps de la requête est illisible : du JSON encodé en UTF-8 est attendu.", 404: "Page ou ressource introuvable.", 405: "Méthode non autorisée.",
                 429: "Trop de demandes : réessayez plus tard."}


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) and exc.status_code not in {400, 404, 405} else None
    return JSONResponse({"detail": detail or HTTP_MESSAGES.get(exc.status_code, "Erreur.")},
                        status_code=exc.status_code, headers=getattr(exc, "headers", None))


def create_app(settings: Settings | None = None, clock: Callable[[], float] = time.time) -> FastAPI:
    s = intake_settings(settings)
    runtime = build_runtime("intake", s, INTAKE_TABLES)
    for stream, event_cls, handler in SUBSCRIPTIONS:
        subscribe_reliably(
            runtime.broker, runtime.redis, runtime.engine, stream=stream, group="intake",
            consumer=runtime.consumer_name, handler=handler, max_deliveries=s.max_deliveries,
            claim_idle_ms=s.claim_idle_ms, polling_interval_ms=s.polling_interval_ms, accepts=(event_cls,),
        )
    templates = make_templates(HERE / "templates")
    templates.env.globals.update(intake_url="", catalog_url=s.catalog_public_url.rstrip("/"))
    templates.env.filters["heure"] = french_time

    async def close_context(_: ServiceRuntime) -> None:
        await app.state.intake.close()

    app = create_service_app(
        runtime,
        title="MonLycéePro — dépôt des demandes d'entreprises",
        description=(
            "Les entreprises (ou leurs partenaires : Les Entreprises s'Engagent, services publics) déposent ici "
            "leurs demandes aux lycées professionnels, puis les suivent grâce à un lien privé."
        ),
        background=[retention_task(s)],
        on_shutdown=[close_context],
    )
    app.state.intake = IntakeContext(
        runtime=runtime, settings=s, communes=load_communes(s.data_dir),
        ip_limiter=SlidingWindowLimiter(s.rate_limit_ip, s.rate_limit_ip_window_s),
        signer=Signer(s.secret_key, salt="intake-form"), templates=templates, clock=clock,
    )
    app.add_exception_handler(RequestValidationError, api.request_validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(BodySizeLimit, max_bytes=s.max_body_bytes)
    app.include_router(api.router)
    app.include_router(web.router)
    mount_dsfr(app)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="intake-static")
    return app
