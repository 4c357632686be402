"""Helpers for notifier tests: routed events, inbound replies, and asyncio.run beside Playwright.
The SMTP sink is ``tests.support.smtp``, the controllable clock ``tests.support.clock``."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage

from shared.contracts.events import Contact, RequestRouted, RoutedRecipient

LEAD = "marie.dupont@ac-lyon.fr"
COPY = "paul.martin@ac-lyon.fr"
COMPANY = "jeanne@boulangerie-exemple.fr"


STATUS_URL = "http://127.0.0.1:8000/suivi/jeton-de-suivi-prive"


def routed_event(*, kind: str = "initial", request_id: uuid.UUID | None = None, recipients=None,
                 unroutable: bool = False) -> RequestRouted:
    if recipients is None:
        recipients = [
            RoutedRecipient(assignment_id=uuid.uuid4(), rbe_email=LEAD, rbe_name="Marie Dupont", role="lead",
                            uais=["0690001A"], lycees=["Lycée François Rabelais"], distance_km=3.2),
            RoutedRecipient(assignment_id=uuid.uuid4(), rbe_email=COPY, rbe_name="Paul Martin", role="copy",
                            uais=["0690002B"], lycees=["Lycée Jean Moulin"], distance_km=7.5),
        ]
    return RequestRouted(
        correlation_id="test", request_id=request_id or uuid.uuid4(), routing_id=uuid.uuid4(),
        submitted_at=datetime.now(UTC), kind=kind, needs=["pfmp"], academie="Lyon",  # type: ignore[arg-type]
        company_name="Boulangerie Exemple", contact=Contact(name="Jeanne Martin", email=COMPANY, phone="0472000000"),
        jobs=["Boulanger"], message="Nous cherchons deux stagiaires en boulangerie.", places=2, period="mars 2027",
        commune_name="Lyon", recipients=recipients, unroutable=unroutable, status_url=STATUS_URL,
    )


def reply_bytes(*, sender: str, to: str, subject: str, body: str, headers: dict[str, str] | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@mail.example.fr>"
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(body)
    return msg.as_bytes(policy=policy.SMTP)


def run(coro):
    """asyncio.run in a fresh thread: Playwright's sync API (browser tests in the same session)
    leaves an event loop running in the main thread, where asyncio.run refuses to start."""
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def take_request(engine, ctx, request_id: uuid.UUID | None = None) -> None:
    """A thread started, then taken by its lead's « Je m'en occupe » (the thread's first human answer)."""
    from sqlmodel import select

    from services.notifier.models import Participant
    from services.notifier.service import actions, threads
    from services.notifier.service.addresses import make_action_token
    from shared.platform.db import unit_of_work

    with unit_of_work(engine) as session:
        thread = threads.start_thread(session, ctx, routed_event(request_id=request_id))
        lead = session.exec(select(Participant).where(Participant.thread_id == thread.id,
                                                      Participant.email == LEAD)).one()
        token = make_action_token(ctx.settings.secret_key, lead.id, "accept")
    with unit_of_work(engine) as session:
        actions.apply(session, ctx, token)
