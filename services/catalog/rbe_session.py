"""What every page of the RBE space shares: its templates, its magic-link space (signed session cookie,
CSRF-checked forms), and the refusal pages."""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from fastapi.datastructures import FormData
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from services.catalog import repository as repo
from services.catalog.magic_login import MagicSpace
from services.catalog.mailer import magic_link_message
from services.catalog.service.magic import RBE_LINK, RBE_SESSION, SignedClaim
from shared.platform.http import Runtime
from shared.platform.web import make_templates

templates = make_templates(Path(__file__).parent / "templates")
COOKIE = "mlp_rbe"


def _known_rbe(session: Session, email: str) -> bool:
    return repo.get_rbe(session, email) is not None and bool(repo.uais_of_rbe(session, email))


SPACE = MagicSpace(prefix="/espace-rbe", home="/espace-rbe/mes-lycees", cookie=COOKIE, link_purpose=RBE_LINK,
                   session_purpose=RBE_SESSION, templates=templates, login_template="rbe_login.html",
                   error_template="rbe_link_error.html", known=_known_rbe, message=magic_link_message)


def correlation_id(request: Request) -> str:
    return getattr(request.state, "correlation_id", "rbe")


def rbe_session(request: Request, runtime: Runtime) -> SignedClaim | None:
    return SPACE.session(request, runtime)


async def checked_form(request: Request, runtime: Runtime) -> tuple[SignedClaim | None, FormData, str]:
    """(session, form, csrf); session None when not logged in or the CSRF token does not match."""
    return await SPACE.checked_form(request, runtime)


def expired_page(request: Request) -> HTMLResponse:
    return SPACE.expired_page(request)


def refused_page(request: Request, message: str, status: int = 403) -> HTMLResponse:
    return templates.TemplateResponse(request, "rbe_link_error.html", {"message": message, "kind": "forbidden"},
                                      status_code=status)
