"""Public pages (server-rendered, French, work without JavaScript): search and lycée profile."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from services.catalog import repository as repo
from services.catalog.api import State
from services.catalog.service.events import upcoming_near
from services.catalog.service.profile import EVENT_KINDS, event_when
from services.catalog.service.queries import (
    NEED_LABELS,
    CatalogError,
    build_profile,
    resolve_place,
    search_lycees,
)
from shared.contracts.events import NEED_TYPES
from shared.platform.http import Runtime
from shared.platform.web import make_templates
from shared.reference.geo import load_communes

router = APIRouter(include_in_schema=False)
templates = make_templates(Path(__file__).parent / "templates")
RADII = (10, 20, 30, 50, 100)
PER_PAGE = 10


def _text(value: str | None, limit: int = 100) -> str:
    return (value or "").strip()[:limit]


def _number(value: str | None) -> int | None:
    """A small positive integer written in ASCII digits, else None (« ² » is a digit to str.isdigit)."""
    return int(value) if value and len(value) <= 6 and value.isascii() and value.isdecimal() else None


class SearchForm:
    def __init__(self, metier: Annotated[str | None, Query()] = None, lieu: Annotated[str | None, Query()] = None,
                 rayon: Annotated[str | None, Query()] = None, voie: Annotated[str | None, Query()] = None,
                 page: Annotated[str | None, Query()] = None, q: Annotated[str | None, Query()] = None,
                 besoin: Annotated[str | None, Query()] = None, periode: Annotated[str | None, Query()] = None) -> None:
        # Pages never answer 422: odd values fall back to defaults and the form shows what was used.
        self.metier = _text(metier)
        self.lieu = _text(lieu, 80)
        radius = _number(rayon)
        self.rayon: int = radius if radius is not None and radius in RADII else 30
        self.voie = voie if voie in ("scolaire", "apprentissage") else ""
        self.page = min(_number(page) or 1, 500)
        self.q = _text(q)  # the RBE's words too: platforms, labels, events
        self.besoin = besoin if besoin in NEED_TYPES else ""
        self.periode = _text(periode, 80)

    def url_for_page(self, page: int) -> str:
        return "/?" + urlencode({"metier": self.metier, "lieu": self.lieu, "rayon": self.rayon, "voie": self.voie,
                                 "q": self.q, "besoin": self.besoin, "periode": self.periode, "page": page})


@router.get("/", response_class=HTMLResponse)
def search_page(request: Request, state: State, form: Annotated[SearchForm, Depends()]) -> HTMLResponse:
    result, error, understood = None, None, None
    if form.metier:
        understood = state.index.understand_job(form.metier)
    if form.metier or form.lieu or form.q:
        try:
            result = search_lycees(state.index, load_communes(), job=form.metier or None, place=form.lieu or None,
                                   radius_km=float(form.rayon), track=form.voie or None, page=form.page,
                                   per_page=PER_PAGE, text=form.q or None, need=form.besoin or None,
                                   period=form.periode or None)
        except CatalogError as exc:
            error = str(exc)
    pages = (result.total + PER_PAGE - 1) // PER_PAGE if result else 0
    return templates.TemplateResponse(request, "search.html", {
        "form": form, "result": result, "error": error, "radii": RADII, "pages": pages, "understood": understood,
        "need_labels": NEED_LABELS,
        "profile_query": ("?" + urlencode({"metier": form.metier})) if form.metier else "",
    }, status_code=200)


@router.get("/lycees/{uai}", response_class=HTMLResponse)
def profile_page(request: Request, uai: str, state: State, runtime: Runtime,
                 metier: Annotated[str | None, Query(max_length=100)] = None) -> HTMLResponse:
    uai = uai.strip().upper()[:8]
    with Session(runtime.engine) as session:
        rows = repo.insertion_for(session, uai)
    profile = build_profile(state.model, uai, rows, runtime.settings.public_base_url.rstrip("/"),
                            searched_job=_text(metier) or None, today=date.today())
    if profile is None:
        return templates.TemplateResponse(request, "not_found.html", {"uai": uai}, status_code=404)
    parent = state.model.lycees.get(profile.parent_uai or "")
    return templates.TemplateResponse(request, "profile.html", {
        "p": profile, "need_labels": NEED_LABELS, "parent": parent,
    })


@router.get("/lycees/{uai}/image")
def profile_image(uai: str, runtime: Runtime) -> Response:
    """The logo or photo, as re-encoded at upload (no metadata); the URL carries its digest, so it is cached."""
    with Session(runtime.engine) as session:
        image = repo.get_image(session, uai.strip().upper()[:8])
    if image is None:
        return Response(status_code=404)
    return Response(content=image.content, media_type=image.mime, headers={
        "Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'"})


@router.get("/evenements", response_class=HTMLResponse)
def events_page(request: Request, state: State, lieu: Annotated[str | None, Query()] = None,
                rayon: Annotated[str | None, Query()] = None) -> HTMLResponse:
    """Upcoming events open to companies (job dating, portes ouvertes, forums, jurys), near a place."""
    place = _text(lieu, 80)
    radius = _number(rayon)
    radius = radius if radius is not None and radius in RADII else 30
    error, commune = None, None
    try:
        commune = resolve_place(load_communes(), place or None, None)
    except CatalogError as exc:
        error = str(exc)
    found = [] if error else upcoming_near(state.model, commune, float(radius), date.today())
    return templates.TemplateResponse(request, "events.html", {
        "lieu": place, "rayon": radius, "radii": RADII, "error": error, "commune": commune, "found": found,
        "kinds": EVENT_KINDS, "when": event_when,
    })
