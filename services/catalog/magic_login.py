"""Password-free login by magic link, shared by the RBE space and the referents' back-office: the same
single-use links (``catalog_magic_link``), the same limits (per address in the database, per IP in
memory), the same answer whatever the address. Each space has its own signing purposes and cookie."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import Session
from starlette.datastructures import FormData

from services.catalog import metrics
from services.catalog import repository as repo
from services.catalog.mailer import send
from services.catalog.service.directory import normalize_email
from services.catalog.service.magic import (
    LinkError,
    SignedClaim,
    csrf_token,
    issue_link_token,
    issue_session,
    verify_link_token,
    verify_session,
)
from shared.platform.clock import utcnow
from shared.platform.db import unit_of_work
from shared.platform.http import Runtime
from shared.platform.ratelimit import SlidingWindowLimiter
from shared.platform.service import ServiceRuntime
from shared.platform.settings import Settings

# One needs one link to log in; a few allow for a lost email. More would let anyone flood an inbox.
LINKS_PER_ADDRESS_PER_HOUR = 3
LINKS_PER_IP_PER_HOUR = 10  # a lycée's staff may share one address on the académie's network

LINK_REFUSALS = {
    "used": "Ce lien a déjà été utilisé. Pour des raisons de sécurité, chaque lien ne sert qu'une fois : "
            "demandez-en un nouveau.",
    # Signed with our key but absent from the issued links: sent by another installation, or issued
    # before the database was reset. Never used here.
    "unknown": "Ce lien n'a pas été délivré par ce service (il vient peut-être d'une autre installation ou "
               "d'avant une réinitialisation) : il n'a jamais servi. Demandez-en un nouveau.",
}


@dataclass(frozen=True)
class MagicSpace:
    prefix: str  # "/espace-rbe"
    home: str  # where an opened link lands
    cookie: str
    link_purpose: str
    session_purpose: str
    templates: Jinja2Templates
    login_template: str
    error_template: str
    known: Callable[[Session, str], bool]  # may this address log in here?
    message: Callable[[Settings, str, str], EmailMessage]  # (settings, to, link) -> the email
    login_context: Callable[[ServiceRuntime], dict] = lambda runtime: {}

    def page(self, request: Request, runtime: ServiceRuntime, status: int = 200, background=None, **context) -> HTMLResponse:
        ctx = {"sent": False, "error": None, "email": "", **self.login_context(runtime), **context}
        return self.templates.TemplateResponse(request, self.login_template, ctx, status_code=status,
                                               background=background)

    def error(self, request: Request, message: str, kind: str, status: int) -> HTMLResponse:
        return self.templates.TemplateResponse(request, self.error_template, {
            "message": message, "kind": kind, "home": self.prefix}, status_code=status)

    def session(self, request: Request, runtime: ServiceRuntime) -> SignedClaim | None:
        return verify_session(runtime.settings.secret_key, request.cookies.get(self.cookie), self.session_purpose)

    def csrf(self, runtime: ServiceRuntime, claim: SignedClaim) -> str:
        return csrf_token(runtime.settings.secret_key, claim)

    async def checked_form(self, request: Request, runtime: ServiceRuntime) -> tuple[SignedClaim | None, FormData, str]:
        """(session, form, csrf) for a POST from a page of this space; session None: expired or forged."""
        claim = self.session(request, runtime)
        form = await request.form()
        if claim is None:
            return None, form, ""
        csrf = self.csrf(runtime, claim)
        if str(form.get("csrf", "")) != csrf:
            return None, form, ""
        return claim, form, csrf

    def expired_page(self, request: Request) -> HTMLResponse:
        return self.error(request, "Votre session a expiré ou le formulaire n'est plus valable. Reconnectez-vous.",
                          "session", 403)

    async def ask_link(self, request: Request, runtime: ServiceRuntime) -> HTMLResponse:
        form = await request.form()
        typed = str(form.get("email", ""))[:254]
        try:
            email = normalize_email(typed)
        except ValueError:
            return self.page(request, runtime, 422, email=typed, error=(
                "Adresse électronique invalide : vérifiez sa saisie (ex. prenom.nom@ac-lyon.fr)."))
        limiter = ip_limiter(request)
        ip = request.client.host if request.client else "inconnu"
        if not limiter.hit(ip):
            metrics.MAGIC_LINKS.labels("rate_limited").inc()
            page = self.page(request, runtime, 429, error="Trop de demandes de lien depuis votre connexion : "
                                                          "réessayez dans une heure.")
            page.headers["Retry-After"] = str(limiter.retry_after(ip))
            return page
        settings = runtime.settings

        def issue() -> tuple[str | None, str]:
            with unit_of_work(runtime.engine) as session:
                if not self.known(session, email):
                    return None, "unknown_address"
                if repo.magic_links_since(session, email, utcnow() - timedelta(hours=1)) >= LINKS_PER_ADDRESS_PER_HOUR:
                    return None, "rate_limited"
                token, claim = issue_link_token(settings.secret_key, email, purpose=self.link_purpose)
                repo.record_magic_link(session, claim.token_id, email)
                return token, "sent"

        token, outcome = await runtime.run_db(issue)
        # The same page, status and timing whatever the address: the email leaves after the response, so
        # neither the answer nor its delay tells whether the address is in the directory.
        tasks = BackgroundTasks()
        if token:
            link = f"{settings.catalog_public_url.rstrip('/')}{self.prefix}/connexion?jeton={token}"
            tasks.add_task(_send_link, settings, self.message(settings, email, link))
        else:
            metrics.MAGIC_LINKS.labels(outcome).inc()
        return self.page(request, runtime, sent=True, background=tasks)

    def open_link(self, request: Request, runtime: ServiceRuntime, jeton: str) -> Response:
        secret = runtime.settings.secret_key
        try:
            claim = verify_link_token(secret, jeton[:2000], purpose=self.link_purpose)
            with unit_of_work(runtime.engine) as session:
                outcome = repo.consume_magic_link(session, claim.token_id)
            if outcome != "ok":
                raise LinkError(outcome if outcome == "unknown" else "replayed", LINK_REFUSALS[outcome])
        except LinkError as exc:
            metrics.MAGIC_LINKS.labels(exc.kind).inc()
            return self.error(request, str(exc), exc.kind, 400)
        metrics.MAGIC_LINKS.labels("opened").inc()
        response = RedirectResponse(self.home, status_code=303)
        response.set_cookie(self.cookie, issue_session(secret, claim.email, self.session_purpose), max_age=7200,
                            httponly=True, samesite="lax", secure=runtime.settings.catalog_public_url.startswith("https"),
                            path=self.prefix)
        return response

    def logout(self) -> Response:
        response = RedirectResponse(self.prefix, status_code=303)
        response.delete_cookie(self.cookie, path=self.prefix)
        return response

    def add_login_routes(self, router: APIRouter) -> None:
        """The login page, the link request, the link itself and the logout, on ``router`` (at ``prefix``)."""
        space = self

        @router.get("", response_class=HTMLResponse)
        def login_page(request: Request, runtime: Runtime) -> HTMLResponse:
            return space.page(request, runtime)

        @router.post("", response_class=HTMLResponse)
        async def ask_link(request: Request, runtime: Runtime) -> HTMLResponse:
            return await space.ask_link(request, runtime)

        @router.get("/connexion", response_class=HTMLResponse)
        def open_link(request: Request, runtime: Runtime, jeton: str = "") -> Response:
            return space.open_link(request, runtime, jeton)

        @router.post("/deconnexion")
        def logout() -> Response:
            return space.logout()


async def _send_link(settings: Settings, message: EmailMessage) -> None:
    sent = await send(settings, message)
    metrics.MAGIC_LINKS.labels("sent" if sent else "send_failed").inc()


def ip_limiter(request: Request) -> SlidingWindowLimiter:
    """One per-IP limit for every magic link the catalog sends (RBE space and back-office together)."""
    app = request.app
    if not hasattr(app.state, "magic_link_ip_limiter"):
        app.state.magic_link_ip_limiter = SlidingWindowLimiter(LINKS_PER_IP_PER_HOUR, 3600)
    return app.state.magic_link_ip_limiter
