"""``bench.floor --layers backbone``: the three stages on the project's own backbone, with no business.

Each stage is a real service shell (``shared.platform.service``: settings, structlog at INFO, Prometheus
middleware, uvicorn) on its own SQLite database. What the standards require of every stage is
kept: intake accepts through the group commit into its outbox; each consumer handles its batch
through ``shared.platform.consumer`` (processed-event keys in the handler's transaction, manual ack,
claimer) and stages the next event in its outbox; the relay publishes after commit. What is
taken out is the work: no request row, no routing decision (three fixed recipients), no thread,
no MIME rendering, no outbound-email rows: the four emails leave after commit on one pipelined
connection, as in the bare floor. The event payloads are the real contract's classes.

So this is still a lower bound for the real system, one layer up from the bare floor.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from fastapi import Request
from sqlmodel import Session

from services.intake.grouping import GroupCommit
from shared.contracts.events import (
    Contact,
    Location,
    RequestRouted,
    RequestSubmitted,
    RoutedRecipient,
    Streams,
    ThreadMessage,
)
from shared.contracts.request_schema import CompanyRequestIn
from shared.platform.consumer import subscribe_reliably
from shared.platform.outbox import add_to_outbox
from shared.platform.service import ServiceRuntime, build_runtime, create_service_app
from shared.platform.settings import Settings


def _runtime(name: str) -> ServiceRuntime:
    # The service's real schema (its migrations), though the floor only uses the backbone tables.
    from services.cli import SCHEMAS

    return build_runtime(name, Settings(), SCHEMAS[name])


def _subscribe(runtime: ServiceRuntime, stream: str, handler, accepts) -> None:
    s = runtime.settings
    subscribe_reliably(runtime.broker, runtime.redis, runtime.engine, stream=stream, group=runtime.name,
                       consumer=runtime.consumer_name, handler=handler, max_deliveries=s.max_deliveries,
                       claim_idle_ms=s.claim_idle_ms, polling_interval_ms=s.polling_interval_ms, accepts=(accepts,))


def _write_outbox(runtime: ServiceRuntime, events: list) -> list[None]:
    with Session(runtime.engine) as session:
        for event in events:
            add_to_outbox(session, event)
        session.commit()
    return [None] * len(events)


def intake_app():
    runtime = _runtime("intake")
    _subscribe(runtime, Streams.REQUEST_ROUTED, lambda event, session: None, RequestRouted)
    _subscribe(runtime, Streams.THREAD_MESSAGE, lambda event, session: None, ThreadMessage)
    app = create_service_app(runtime, title="floor intake")

    async def write(events) -> list[None]:
        outcomes = await asyncio.to_thread(_write_outbox, runtime, list(events))
        runtime.relay.wake()
        return outcomes

    group = GroupCommit(write)

    @app.post("/api/v1/requests", status_code=202)
    async def submit(payload: CompanyRequestIn, request: Request) -> dict:
        event = RequestSubmitted(
            correlation_id=request.scope["state"]["correlation_id"], request_id=uuid.uuid4(),
            submitted_at=datetime.now(UTC), needs=payload.needs, jobs=payload.jobs,
            location=Location(postal_code=payload.location.postal_code), radius_km=payload.radius_km,
            company_name=payload.company_name, contact=Contact(name=payload.contact.name, email=payload.contact.email),
            message=payload.message, places=payload.places, period=payload.period,
        )
        await group.submit(event)
        return {"request_id": str(event.request_id)}

    return app


def _recipient(i: int) -> RoutedRecipient:
    return RoutedRecipient(assignment_id=uuid.uuid4(), rbe_email=f"rbe{i}@lycee.example", role="lead" if i == 0 else "copy",
                           uais=[f"069{i:04d}X"], lycees=[f"Lycée professionnel n° {i}"], distance_km=4.2,
                           reasons=["Forme au métier demandé", "À moins de 30 km"])


def matcher_app():
    runtime = _runtime("matcher")

    def route(event: RequestSubmitted, session: Session) -> None:
        add_to_outbox(session, RequestRouted(
            correlation_id=event.correlation_id, request_id=event.request_id, routing_id=uuid.uuid4(),
            submitted_at=event.submitted_at, needs=event.needs, company_name=event.company_name, contact=event.contact,
            jobs=event.jobs, message=event.message, places=event.places, period=event.period,
            recipients=[_recipient(i) for i in range(3)], explanation="Trois lycées forment au métier demandé.",
        ))

    _subscribe(runtime, Streams.REQUEST_SUBMITTED, route, RequestSubmitted)
    return create_service_app(runtime, title="floor matcher")


def notifier_app():
    from bench.floor_roles import Mail, send_mails

    runtime = _runtime("notifier")
    port = int(runtime.settings.smtp_url.rsplit(":", 1)[1])
    outgoing: list[Mail] = []

    async def flush() -> None:
        mails, outgoing[:] = list(outgoing), []
        await send_mails(port, mails)

    def notify(event: RequestRouted, session: Session):
        outgoing.extend(Mail(r.rbe_email, event.company_name) for r in event.recipients)
        outgoing.append(Mail(event.contact.email, event.company_name))
        add_to_outbox(session, ThreadMessage(
            correlation_id=event.correlation_id, request_id=event.request_id, message_id=f"<{uuid.uuid4()}@floor>",
            author_role="system", author_label="MonLycéePro", kind="acknowledgement", sent_at=datetime.now(UTC),
        ))
        return flush  # the same callable for the whole batch: run once after commit

    _subscribe(runtime, Streams.REQUEST_ROUTED, notify, RequestRouted)
    return create_service_app(runtime, title="floor notifier")
