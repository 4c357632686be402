"""What every page of the RBE space shares: its templates, the signed session cookie, CSRF-checked forms."""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse

from services.catalog.service.magic import csrf_token, verify_session
from shared.platform.http import Runtime
from shared.platform.web import make_templates

templates = make_templates(Path(__file__).parent / "templates")
COOKIE = "mlp_rbe"


def correlation_id(request: Request) -> str:
    return getattr(request.state, "correlation_id", "rbe")


def rbe_session(request: Request, runtime: Runtime):
    return verify_session(runtime.settings.secret_key, request.cookies.get(COOKIE))


async def checked_form(request: Request, runtime: Runtime):
    """(session, form, csrf); session None when not logged in or the CSRF token does not match."""
    session = rbe_session(request, runtime)
    form = await request.form()
    if session is None:
        return None, form, None
    csrf = csrf_token(runtime.settings.secret_key, session)
    if str(form.get("csrf", "")) != csrf:
        return None, form, None
    return session, form, csrf


def expired_page(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "rbe_link_error.html", {
        "message": "Votre session a expiré ou le formulaire n'est plus valable. Reconnectez-vous.", "kind": "session"},
        status_code=403)


def refused_page(request: Request, message: str, status: int = 403) -> HTMLResponse:
    return templates.TemplateResponse(request, "rbe_link_error.html", {"message": message, "kind": "forbidden"},
                                      status_code=status)
