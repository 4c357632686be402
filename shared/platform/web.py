"""Server-rendered pages shared by intake and catalog: DSFR assets and the page layout.

Pages work without JavaScript; the DSFR script only enhances them. Service templates extend
``base.html`` (``{% extends "base.html" %}``) and fill ``title`` and ``content`` blocks.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, FileSystemLoader

from shared.platform.settings import PROJECT_ROOT, get_settings

DSFR_DIST = PROJECT_ROOT / "node_modules" / "@gouvfr" / "dsfr" / "dist"
SHARED_TEMPLATES = Path(__file__).parent / "templates"


def mount_dsfr(app: FastAPI) -> None:
    """Serve the DSFR distribution under /dsfr (installed by `npm ci --ignore-scripts`)."""
    if DSFR_DIST.is_dir():
        app.mount("/dsfr", StaticFiles(directory=DSFR_DIST), name="dsfr")


def make_templates(service_templates: Path) -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(service_templates))
    templates.env.loader = ChoiceLoader([FileSystemLoader(str(service_templates)), FileSystemLoader(str(SHARED_TEMPLATES))])
    settings = get_settings()
    templates.env.globals.update(
        intake_url=settings.public_base_url.rstrip("/"),
        catalog_url=settings.catalog_public_url.rstrip("/"),
    )
    return templates
