"""The platform's SMTP client: one asyncio protocol per connection, kept open across messages.

The one way the services send mail: the notifier's sender (batches over kept connections,
``connect`` and ``SmtpConnection.send_all``) and the catalog's magic links (``send_one``), both to
``MLP_SMTP_URL`` (``SmtpUrl``).

Why not aiosmtplib (the notifier used it before): per email it made four round trips (MAIL, RCPT,
DATA, content), parsed both addresses again, ran two regular expressions over the whole message
and armed a timeout task per command; that was most of the notifier's CPU once composing got
cheap. Here, when the server advertises PIPELINING (RFC 2920; Postfix does), MAIL, RCPT and DATA
leave in one write and the content of a message leaves in the same write as the next message's
envelope, so a backlog costs about one round trip per email. Without PIPELINING every command
waits for its reply.

Outcomes: ``done(message, None)`` once the server took the content (250),
``done(message, SmtpReplyError)`` when it refused the sender, the recipient, DATA or the content
(the connection stays usable: RSET goes first in the next write). Anything that leaves the
connection in an unknown state (lost, 421, timeout, a reply that does not fit) raises
``SmtpDisconnected``; the messages it carried without a known outcome are in ``in_flight``.

This module is the client's entry point (``SmtpUrl``, ``connect``, ``send_one``, and the names callers
use); the connection itself is ``smtp_connection.SmtpConnection``, the errors and wire helpers are in
``smtp_wire``.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from shared.platform.smtp_connection import SmtpConnection as SmtpConnection
from shared.platform.smtp_wire import Envelope as Envelope
from shared.platform.smtp_wire import M
from shared.platform.smtp_wire import Message as Message
from shared.platform.smtp_wire import SmtpDisconnected as SmtpDisconnected
from shared.platform.smtp_wire import SmtpError as SmtpError
from shared.platform.smtp_wire import SmtpPermanentError as SmtpPermanentError
from shared.platform.smtp_wire import SmtpReplyError as SmtpReplyError
from shared.platform.smtp_wire import SmtpTemporaryError as SmtpTemporaryError
from shared.platform.smtp_wire import SmtpTimeout as SmtpTimeout
from shared.platform.smtp_wire import data_block as data_block


async def connect(host: str, port: int, *, timeout_s: float, tls: ssl.SSLContext | None = None,
                  starttls: ssl.SSLContext | None = None, username: str | None = None,
                  password: str | None = None) -> SmtpConnection[M]:
    """An open, greeted (EHLO), optionally TLS-protected and authenticated connection."""
    loop = asyncio.get_running_loop()
    try:
        conn: SmtpConnection[M]
        _, conn = await asyncio.wait_for(loop.create_connection(
            lambda: SmtpConnection(timeout_s), host, port, ssl=tls, server_hostname=host if tls else None), timeout_s)
    except TimeoutError as exc:
        raise SmtpTimeout(f"connection to {host}:{port} not established within {timeout_s:g} s") from exc
    try:
        await conn.handshake(host, starttls, username, password)
    except BaseException:
        conn.close()
        raise
    return conn


@dataclass(frozen=True, slots=True)
class SmtpUrl:
    """Where ``MLP_SMTP_URL`` points: ``smtp://host:port`` (plain), ``smtp+starttls://…`` (STARTTLS,
    required) or ``smtps://…`` (implicit TLS), with ``user:password@`` (percent-encoded) when the relay
    needs it. The TLS forms verify the server's certificate against the system CAs (or ``SSL_CERT_FILE``)."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False
    starttls: bool = False

    @classmethod
    def parse(cls, url: str) -> SmtpUrl:
        parts = urlparse(url)
        return cls(host=parts.hostname or "127.0.0.1", port=parts.port or (465 if parts.scheme == "smtps" else 25),
                   username=unquote(parts.username) if parts.username else None,
                   password=unquote(parts.password) if parts.password else None,
                   tls=parts.scheme == "smtps", starttls=parts.scheme == "smtp+starttls")

    @property
    def secure(self) -> bool:
        return self.tls or self.starttls

    async def connect(self, timeout_s: float, tls_context: ssl.SSLContext | None = None) -> SmtpConnection[M]:
        """``connect`` to this URL; ``tls_context`` (TLS forms only): the system's default when not
        given, built off the event loop (loading the CAs takes milliseconds)."""
        if self.secure and tls_context is None:
            tls_context = await asyncio.to_thread(ssl.create_default_context)
        return await connect(self.host, self.port, timeout_s=timeout_s, tls=tls_context if self.tls else None,
                             starttls=tls_context if self.starttls else None, username=self.username,
                             password=self.password)


async def send_one(url: SmtpUrl, message: Message, *, timeout_s: float) -> None:
    """``message`` on a connection of its own, closed with QUIT. Raises ``SmtpError`` when it is
    refused (``SmtpReplyError`` by the server), ``OSError`` (``SmtpDisconnected`` among them) when
    the server could not be reached or the connection broke before the outcome was known."""
    conn: SmtpConnection[Message] = await url.connect(timeout_s)
    outcomes: list[Exception | None] = []
    try:
        await conn.send_all(message, lambda: None, lambda _, error: outcomes.append(error))
        if outcomes[0] is not None:
            raise outcomes[0]
        try:
            await conn.command("QUIT", 221)
        except (SmtpError, OSError):
            pass  # the message is sent: a server closing without its goodbye changes nothing
    finally:
        conn.close()
