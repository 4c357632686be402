"""The one SMTP sink of the test suite: a real SMTP server (the one `monlyceepro up` runs,
``services.mailsink.SinkSMTP``, on a free loopback port) that records every message it accepts.
It can be stopped and restarted on the same port to simulate an outage of the mail server,
refuse some recipients, or drop the connection after a message's content. It advertises PIPELINING, as Postfix does, unless told not to (aiosmtpd does not by itself).
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from functools import cached_property

from services.mailsink import PipeliningAdvertised, SinkController
from tests.support.eventually import eventually
from tests.support.servers import free_port


@dataclass
class Received:
    """One accepted message, as the sink got it."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    peer: tuple | None = None  # the client's (host, port): one value per SMTP connection

    @cached_property
    def msg(self) -> EmailMessage:
        return message_from_bytes(self.raw, policy=policy.default)  # type: ignore[return-value]

    @property
    def to(self) -> str:
        """The first recipient, lower-cased (the notifier sends one message per recipient)."""
        return self.rcpt_tos[0].lower()


class _Recorder(PipeliningAdvertised):
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802 - aiosmtpd API
        if self.sink.pipelining:
            return await super().handle_EHLO(server, session, envelope, hostname, responses)
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd API
        if address.lower() in self.sink.refuse:
            return "550 5.1.1 Boîte inconnue"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
        if self.sink.delay_s:
            await asyncio.sleep(self.sink.delay_s)
        if envelope.rcpt_tos[0].lower() in self.sink.drop:
            self.sink.drop.discard(envelope.rcpt_tos[0].lower())
            server.transport.abort()  # the connection drops after the content, before the reply
            return "250 OK"
        with self.sink.lock:
            self.sink.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                               envelope.original_content or envelope.content, session.peer))
        return "250 OK"


class SmtpSink:
    def __init__(self, port: int | None = None, pipelining: bool = True) -> None:
        self.port = port or free_port()
        self.pipelining = pipelining
        self.messages: list[Received] = []
        self.refuse: set[str] = set()  # recipients answered 550 at RCPT
        self.drop: set[str] = set()  # recipients whose next DATA drops the connection, unanswered
        self.delay_s = 0.0  # a slow server: each DATA answered after this long
        self.lock = threading.Lock()
        self.controller: SinkController | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SmtpSink:
        self.controller = SinkController(_Recorder(self), hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.messages)

    def to(self, address: str) -> list[EmailMessage]:
        """The messages received so far with ``address`` among their recipients, oldest first."""
        address = address.lower()
        return [m.msg for m in self.snapshot() if address in (r.lower() for r in m.rcpt_tos)]

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        """Every message received, once there are at least ``count`` of them."""
        return eventually(lambda: len(self.messages) >= count and self.snapshot(), timeout=timeout,
                          what=lambda: f"{count} messages in the SMTP sink (got {len(self.messages)})")
