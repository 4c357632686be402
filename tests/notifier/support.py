"""Helpers for notifier tests: a real SMTP sink (aiosmtpd on a free loopback port), events,
a controllable clock."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from shared.contracts.events import Contact, RequestRouted, RoutedRecipient
from tests.support.servers import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    peer: tuple | None = None  # the client's (host, port): one value per SMTP connection

    @property
    def msg(self) -> EmailMessage:
        return message_from_bytes(self.raw, policy=policy.default)  # type: ignore[return-value]

    @property
    def to(self) -> str:
        return self.rcpt_tos[0].lower()


class _SinkHandler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        session.host_name = hostname
        if self.sink.pipelining:  # as Postfix does; aiosmtpd reads commands line by line, so it copes
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.lower() in self.sink.refuse:
            return "550 5.1.1 Boîte inconnue"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if envelope.rcpt_tos[0].lower() in self.sink.drop:
            self.sink.drop.discard(envelope.rcpt_tos[0].lower())
            server.transport.abort()  # the connection drops after the content, before the reply
            return "250 OK"
        with self.sink.lock:
            self.sink.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                               envelope.original_content or envelope.content, session.peer))
        return "250 OK"


class SmtpSink:
    """A real SMTP server collecting every message; can be stopped and started again. It
    advertises PIPELINING unless told not to (aiosmtpd does not by itself)."""

    def __init__(self, port: int | None = None, pipelining: bool = True) -> None:
        self.port = port or free_port()
        self.pipelining = pipelining
        self.messages: list[Received] = []
        self.refuse: set[str] = set()  # recipients answered 550 at RCPT
        self.drop: set[str] = set()  # recipients whose next DATA drops the connection, unanswered
        self.lock = threading.Lock()
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SmtpSink:
        self.controller = Controller(_SinkHandler(self), hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if m.to == address.lower()]

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} messages, got {len(self.messages)}")


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now = self.now + timedelta(**kw)


LEAD = "marie.dupont@ac-lyon.fr"
COPY = "paul.martin@ac-lyon.fr"
COMPANY = "jeanne@boulangerie-exemple.fr"


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
        commune_name="Lyon", recipients=recipients, unroutable=unroutable,
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
