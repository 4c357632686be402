"""What the routes depend on (built once in app.py), and the accept/erase transaction boundaries
shared by the JSON API and the web form."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import httpx
import structlog
from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from itsdangerous import Signer
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from services.intake import metrics, repository
from services.intake.catalog_client import JobUnderstanding, JobUnderstood, LyceePfmp
from services.intake.config import IntakeSettings
from services.intake.grouping import GroupCommit
from services.intake.service import impact as impact_service
from services.intake.service.retention import erase
from services.intake.service.submission import Staged, Submitted, replay, stage, status_path, write_staged
from services.intake.service.timeline import status_view
from services.intake.service.validation import (
    FieldError,
    InvalidRequest,
    Qualified,
    parse_request,
    qualify,
    raw_deep_errors,
)
from shared.contracts.events import RequestSource
from shared.contracts.request_schema import CompanyRequestIn
from shared.platform.db import unit_of_work
from shared.platform.logging import correlation_scope, get_logger
from shared.platform.pilot_live import LivePilot
from shared.platform.ratelimit import SlidingWindowLimiter
from shared.platform.service import ServiceRuntime
from shared.platform.sqlite_writes import WriteLockBusy
from shared.reference.geo import CommuneIndex

log = get_logger(__name__)
NOT_FOUND = "Demande introuvable : vérifiez le lien de suivi."
T = TypeVar("T")


@dataclass
class IntakeContext:
    runtime: ServiceRuntime
    settings: IntakeSettings
    communes: CommuneIndex
    ip_limiter: SlidingWindowLimiter
    signer: Signer
    templates: Jinja2Templates
    pilot: LivePilot  # the pilot académies now (setting, or the operators' override polled from Redis)
    # Seconds since the epoch, as time.time(): the form's fill-time and expiry checks read it (tests
    # inject a fake clock instead of sleeping).
    clock: Callable[[], float] = time.time
    # HTTP-side database work runs on its own threads: a request waiting for the SQLite write lock
    # must never take the thread the outbox relay needs to finish its batch and release that lock.
    # Both are (re)created lazily, so an app whose lifespan restarts (tests) keeps working.
    _http: httpx.AsyncClient | None = field(default=None, repr=False)
    _group: GroupCommit | None = field(default=None, repr=False)
    _jobs: JobUnderstanding | None = field(default=None, repr=False)
    _pfmp: LyceePfmp | None = field(default=None, repr=False)

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None or self._http.is_closed:
            self._http = httpx.AsyncClient(headers={"User-Agent": "monlyceepro-intake"})
        return self._http

    async def understood(self, jobs: list[str], naf: str | None = None) -> list[JobUnderstood] | None:
        """What the catalog's job resolver understands of each typed job; None if it could not be asked."""
        if self._jobs is None:
            self._jobs = JobUnderstanding(self.settings.catalog_url, self.settings.catalog_timeout_s)
        return await self._jobs.all(self.http, jobs, naf)

    async def pfmp_periods(self, uai: str) -> list[tuple[str, str]] | None:
        """The lycée's PFMP periods per class (catalog, cached); None if the catalog could not be asked."""
        if self._pfmp is None:
            self._pfmp = LyceePfmp(self.settings.catalog_url, self.settings.catalog_timeout_s)
        return await self._pfmp.periods(self.http, uai)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    @property
    def base_url(self) -> str:
        return self.settings.public_base_url.rstrip("/")

    def status_url(self, token: str) -> str:
        return self.base_url + status_path(token)

    def client_ip(self, request: Request) -> str:
        if self.settings.trust_forwarded_for and request.headers.get("x-forwarded-for"):
            return request.headers["x-forwarded-for"].split(",")[0].strip()
        return request.client.host if request.client else "inconnu"

    def problems(self, data: object) -> list[FieldError]:
        """Every validation error of a body, without storing anything."""
        try:
            qualify(parse_request(data), self.communes, self.settings.max_links_in_message)
        except InvalidRequest as exc:
            if exc.errors and any(e.field for e in exc.errors):
                shape = {e.field for e in exc.errors}
                return exc.errors + [e for e in raw_deep_errors(data, self.communes, self.settings.max_links_in_message)
                                     if e.field not in shape]
        return []

    def qualify(self, data: object) -> Qualified:
        """The validated request, or InvalidRequest with every error of the body at once. ``data`` is
        raw (form, JSON) or a ``CompanyRequestIn`` the route already validated."""
        if isinstance(data, CompanyRequestIn):
            return qualify(data, self.communes, self.settings.max_links_in_message)
        try:
            body = parse_request(data)
        except InvalidRequest as exc:
            shape = {e.field for e in exc.errors}
            extra = [e for e in raw_deep_errors(data, self.communes, self.settings.max_links_in_message)
                     if e.field not in shape]
            raise InvalidRequest(exc.errors + extra) from None
        return qualify(body, self.communes, self.settings.max_links_in_message)

    def _stage(self, item: Accepting, now: datetime) -> Staged:
        return stage(item.qualified, channel=item.channel, correlation_id=item.correlation_id,
                     base_url=self.base_url, idempotency=item.idempotency, now=now, source=item.source,
                     pilot=self.pilot.current)

    def _write(self, staged: Sequence[Staged], now: datetime) -> list[Submitted | Exception]:
        """One transaction (Core: no ORM object is read back) for the staged requests."""
        with self.runtime.engine.begin() as connection:
            return write_staged(connection, staged, email_limit=self.settings.rate_limit_email,
                                email_window_s=self.settings.rate_limit_email_window_s, now=now)

    # ---- database boundaries of the status page and the public figures (run with runtime.run_db)
    def erase_by_token(self, token: str, correlation_id: str) -> dict | None:
        with unit_of_work(self.runtime.engine) as session:
            req = repository.get_by_token(session, token)
            if req is None:
                return None
            if erase(session, req, "company_request", correlation_id):
                metrics.REQUESTS_ERASED.labels("company_request").inc()
                log.info("request_erased", request_id=req.id, reason="company_request")
            return status_view(session, req, self.status_url(token))

    def impact(self, period: str) -> dict:
        with Session(self.runtime.engine) as session:
            return impact_service.impact(session, period)

    def impact_v2(self, period: str) -> dict:
        with Session(self.runtime.engine) as session:
            return impact_service.impact_v2(session, period)

    def accept_sync(self, data: object, channel: str, correlation_id: str,
                    idempotency: tuple[str, str] | None = None, source: RequestSource | None = None) -> Submitted:
        """Validate, then write the request and its outbox event in ONE transaction.

        Raises InvalidRequest, RateLimited or IdempotencyConflict; nothing is stored then.
        """
        if idempotency:  # a retried POST returns the first result, even if the limits changed since
            with Session(self.runtime.engine) as session:
                first = replay(session, *idempotency)
            if first:
                return first
        item = Accepting(self.qualify(data), channel, correlation_id, idempotency, source)
        return self._accept_alone(item)

    def _accept_alone(self, item: Accepting) -> Submitted:
        now = datetime.now(UTC)
        staged = self._stage(item, now)
        try:
            [outcome] = self._write([staged], now)
        except IntegrityError:
            if not item.idempotency:
                raise
            with Session(self.runtime.engine) as session:  # a concurrent retry with the same key won
                first = replay(session, *item.idempotency)
            if first is None:
                raise
            return first
        if isinstance(outcome, Exception):
            raise outcome
        self._accepted(item, outcome)
        return outcome

    def accept_batch_sync(self, items: Sequence[Accepting]) -> list[Submitted | Exception]:
        """Several qualified requests (without idempotency key) in ONE transaction.

        Each request's rows are built first: one that cannot be (its event breaks the contract)
        fails alone before the transaction. A refusal (RateLimited) stages nothing for its request,
        so the others go on; the email limit counts the batch's earlier requests too. If the
        transaction fails as a whole, each request is retried in its own and gets its own outcome.
        """
        now = datetime.now(UTC)
        outcomes: list[Submitted | Exception | None] = []
        staged: list[Staged] = []
        for item in items:
            try:
                staged.append(self._stage(item, now))
                outcomes.append(None)
            except Exception as exc:
                outcomes.append(exc)
        try:
            written = self._write(staged, now) if staged else []
        except WriteLockBusy:  # tried on the event loop: nothing written, the whole call runs on a thread
            raise
        except Exception:
            log.warning("accept_batch_failed", size=len(items))
            written = []
            for one in staged:
                try:
                    written.extend(self._write([one], now))
                except Exception as exc:
                    written.append(exc)
        results = iter(written)
        final: list[Submitted | Exception] = [outcome if outcome is not None else next(results)
                                              for outcome in outcomes]
        for item, outcome in zip(items, final, strict=True):
            if isinstance(outcome, Submitted):
                with correlation_scope(item.correlation_id):
                    self._accepted(item, outcome)
        return final

    def _accepted(self, item: Accepting, submitted: Submitted) -> None:
        if not submitted.replayed:
            metrics.received(item.channel, submitted.in_pilot)
            log.info("request_accepted", request_id=submitted.request_id, channel=item.channel,
                     academie=item.qualified.academie, needs=list(item.qualified.body.needs),
                     in_pilot=submitted.in_pilot)
        else:
            log.info("request_replayed", request_id=submitted.request_id, channel=item.channel)

    async def _write_batch(self, items: Sequence[Accepting]) -> list[Submitted | Exception]:
        metrics.ACCEPT_BATCH_SIZE.observe(len(items))
        # The drain task inherited the correlation id of whichever request started it; each request's
        # lines carry its own (accept_batch_sync binds them), and batch-wide lines none.
        structlog.contextvars.unbind_contextvars("correlation_id")
        outcomes = await self.runtime.run_write(self.accept_batch_sync, items)
        self.runtime.relay.wake()
        return outcomes

    async def accept(self, data: object, channel: str, correlation_id: str,
                     idempotency: tuple[str, str] | None = None, source: RequestSource | None = None) -> Submitted:
        """Accept one request. ``source`` attributes it (partner, campaign); None means direct, by ``channel``."""
        if idempotency:  # rare (partner APIs), and replays must be checked before validation
            submitted = await self.runtime.run_db(self.accept_sync, data, channel, correlation_id, idempotency,
                                                  source)
            self.runtime.relay.wake()
            return submitted
        if self._group is None:
            self._group = GroupCommit(self._write_batch, max_batch=self.settings.accept_batch_max)
        return await self._group.submit(Accepting(self.qualify(data), channel, correlation_id, source=source))


def unknown_jobs(understood: list[JobUnderstood] | None, field_prefix: str = "jobs") -> list[FieldError]:
    """A job the resolver does not know is never accepted silently: the company is asked to say it again."""
    return [FieldError(f"{field_prefix}.{i}", u.message) for i, u in enumerate(understood or [])
            if u.status == "inconnu"]


@dataclass(frozen=True)
class Accepting:
    """A qualified request on its way to the database."""

    qualified: Qualified
    channel: str
    correlation_id: str
    idempotency: tuple[str, str] | None = None
    source: RequestSource | None = None  # None: direct, attributed by channel


# Dependencies are ``async def`` although they never await: FastAPI runs a plain ``def``
# dependency on its thread pool, one thread hop per request for a dictionary lookup.
async def get_context(request: Request) -> IntakeContext:
    return request.app.state.intake


Ctx = Annotated[IntakeContext, Depends(get_context)]
