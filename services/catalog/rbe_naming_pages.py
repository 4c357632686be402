"""The pages of the RBE naming flow (issue 22): the school names its RBE(s) through the signed link of its
invitation (``/designer-rbe?jeton=``), each named RBE confirms through the link sent to their own address
(``/designer-rbe/confirmer?jeton=``: a page with a button, so a mail scanner opening the link confirms nothing).
The confirmation emails leave after the commit, through the naming mailing (at most once)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse, Response

from services.catalog import metrics
from services.catalog import naming_repository as naming_repo
from services.catalog import repository as repo
from services.catalog.models import CONFIRM_MAILING
from services.catalog.rbe_session import correlation_id, templates
from services.catalog.service.directory import UAI_RE
from services.catalog.service.magic import LinkError
from services.catalog.service.rbe_links import confirm_claim, naming_uai
from services.catalog.service.rbe_mailings import plan_link_on_request
from services.catalog.service.rbe_naming import MAX_NAMED, confirm, nominate, parse_people
from services.catalog.tasks import mail_domain, rbe_mailer
from shared.platform.clock import utcnow
from shared.platform.db import unit_of_work
from shared.platform.http import Runtime
from shared.platform.logging import get_logger
from shared.platform.service import ServiceRuntime

log = get_logger(__name__)
router = APIRouter(prefix="/designer-rbe", include_in_schema=False)
T = TypeVar("T")


def _refused(request: Request, exc: LinkError) -> HTMLResponse:
    metrics.RBE_NAMING.labels(f"link_{exc.kind}").inc()
    return templates.TemplateResponse(
        request, "rbe_link_error.html", {"message": str(exc), "kind": exc.kind, "home": "/"}, status_code=400
    )


def _verified(
    request: Request, runtime: ServiceRuntime, verify: Callable[[str, str], T], jeton: str
) -> T | HTMLResponse:
    """What a signed link names (``verify``), or the French refusal page (400) for a tampered or expired one."""
    try:
        return verify(runtime.settings.secret_key, jeton)
    except LinkError as exc:
        return _refused(request, exc)


def _naming_page(
    request: Request,
    runtime: ServiceRuntime,
    uai: str,
    jeton: str,
    status: int = 200,
    errors: dict | None = None,
    typed: list | None = None,
    done: bool = False,
) -> HTMLResponse:
    with unit_of_work(runtime.engine) as session:
        lycee = repo.get_lycee(session, uai)
        contact = naming_repo.contact_of(session, uai)
        pending = naming_repo.nominations_of(session, uai, ("pending",))
        confirmed = naming_repo.nominations_of(session, uai, ("confirmed",))
    rows = typed or [("", "", "")] * MAX_NAMED
    return templates.TemplateResponse(
        request,
        "rbe_naming.html",
        {
            "lycee": lycee,
            "contact": contact,
            "pending": pending,
            "confirmed": confirmed,
            "jeton": jeton,
            "rows": list(enumerate(rows, start=1)),
            "errors": errors or {},
            "done": done,
        },
        status_code=status,
    )


@router.get("", response_class=HTMLResponse)
def naming_form(request: Request, runtime: Runtime, jeton: str = "") -> Response:
    if not jeton:  # no link at hand: the school asks for one, sent to its official address
        return templates.TemplateResponse(request, "rbe_naming_request.html", {"sent": False})
    uai = _verified(request, runtime, naming_uai, jeton)
    if isinstance(uai, HTMLResponse):
        return uai
    return _naming_page(request, runtime, uai, jeton)


@router.post("/lien", response_class=HTMLResponse)
async def ask_naming_link(request: Request, runtime: Runtime) -> Response:
    form = await request.form()
    typed = str(form.get("uai", "")).strip().upper()[:20]
    if not UAI_RE.match(typed):
        return templates.TemplateResponse(
            request,
            "rbe_naming_request.html",
            {
                "sent": False,
                "uai": typed,
                "error": "UAI invalide : sept chiffres et une lettre (ex. 0693504J).",
            },
            status_code=422,
        )

    def plan() -> bool:
        with unit_of_work(runtime.engine) as session:
            return plan_link_on_request(session, typed, utcnow(), mail_domain(runtime.settings))

    if await runtime.run_db(plan):
        metrics.RBE_NAMING.labels("link_asked").inc()
    tasks = BackgroundTasks()
    tasks.add_task(send_naming_mail, runtime)
    # The same answer whatever the UAI: the link only ever goes to the lycée's official address.
    return templates.TemplateResponse(
        request, "rbe_naming_request.html", {"sent": True, "uai": typed}, background=tasks
    )


async def send_naming_mail(runtime: ServiceRuntime) -> None:
    """Send what the naming flow queued (confirmation links, notices): at most once, a crash leaves the rows
    to the next run (the periodic one of the service)."""
    try:
        report = await rbe_mailer(runtime.engine, runtime.settings, CONFIRM_MAILING).run()
        if report.sent:
            log.info("rbe_naming_mail_sent", sent=report.sent)
    except Exception as exc:  # the rows wait for the next run
        log.warning("rbe_naming_mail_failed", error=type(exc).__name__)


@router.post("", response_class=HTMLResponse)
async def naming_submit(request: Request, runtime: Runtime) -> Response:
    form = await request.form()
    jeton = str(form.get("jeton", ""))
    uai = _verified(request, runtime, naming_uai, jeton)
    if isinstance(uai, HTMLResponse):
        return uai
    typed = [
        (
            str(form.get(f"nom_{i}", ""))[:300],
            str(form.get(f"email_{i}", ""))[:300],
            str(form.get(f"fonction_{i}", ""))[:300],
        )
        for i in range(1, MAX_NAMED + 1)
    ]
    people, errors = parse_people(typed)
    if errors:
        return _naming_page(request, runtime, uai, jeton, 422, {e.field: e.message for e in errors}, typed)

    def record() -> int:
        with unit_of_work(runtime.engine) as session:
            return len(
                nominate(
                    session,
                    uai,
                    people,
                    source="lycee",
                    now=utcnow(),
                    mail_domain=mail_domain(runtime.settings),
                )
            )

    named = await runtime.run_db(record)
    metrics.RBE_NAMING.labels("named").inc(named)
    tasks = BackgroundTasks()
    tasks.add_task(send_naming_mail, runtime)
    page = _naming_page(request, runtime, uai, jeton, done=True)
    page.background = tasks
    return page


def _confirm_page(
    request: Request, jeton: str, outcome: str, nomination=None, lycee_name: str = "", status: int = 200
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "rbe_naming_confirm.html",
        {"jeton": jeton, "outcome": outcome, "nomination": nomination, "lycee_name": lycee_name},
        status_code=status,
    )


@router.get("/confirmer", response_class=HTMLResponse)
def confirm_form(request: Request, runtime: Runtime, jeton: str = "") -> Response:
    claim = _verified(request, runtime, confirm_claim, jeton)
    if isinstance(claim, HTMLResponse):
        return claim
    with unit_of_work(runtime.engine) as session:
        row = naming_repo.get_nomination(session, int(claim.email))
        lycee = repo.get_lycee(session, row.uai) if row else None
    if row is None:
        return _confirm_page(request, jeton, "stale", status=404)
    outcome = {"pending": "ask", "confirmed": "already"}.get(row.status, "stale")
    return _confirm_page(request, jeton, outcome, row, lycee.name if lycee else row.uai)


@router.post("/confirmer", response_class=HTMLResponse)
async def confirm_submit(request: Request, runtime: Runtime) -> Response:
    form = await request.form()
    jeton = str(form.get("jeton", ""))
    claim = _verified(request, runtime, confirm_claim, jeton)
    if isinstance(claim, HTMLResponse):
        return claim
    cid = correlation_id(request)

    def record():
        with unit_of_work(runtime.engine) as session:
            return confirm(
                session,
                int(claim.email),
                now=utcnow(),
                correlation_id=cid,
                mail_domain=mail_domain(runtime.settings),
            )

    result = await runtime.run_db(record)
    if result.outcome == "confirmed":
        metrics.RBE_NAMING.labels("confirmed").inc()
        if result.routing:
            metrics.RBE_NAMING.labels("routing_changed").inc()
        await runtime.run_db(request.app.state.catalog.refresh)  # the new contact shows at once
        runtime.relay.wake()  # the CatalogChanged leaves now, not at the relay's next poll
    tasks = BackgroundTasks()
    tasks.add_task(send_naming_mail, runtime)
    page = _confirm_page(
        request,
        jeton,
        result.outcome,
        result.nomination,
        result.lycee_name,
        status=404 if result.outcome == "stale" else 200,
    )
    page.background = tasks
    return page
