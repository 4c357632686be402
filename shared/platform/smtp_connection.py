"""One SMTP connection as an asyncio protocol, kept open across messages (see ``shared.platform.smtp``
for why and for the outcomes it reports)."""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections import deque
from collections.abc import Callable
from typing import Generic

from shared.platform.smtp_wire import (
    MAX_PENDING,
    UNSAFE_ADDRESS,
    M,
    Message,
    SmtpDisconnected,
    SmtpError,
    SmtpTimeout,
    data_block,
    local_hostname,
    reply_outcome,
)


class SmtpConnection(asyncio.Protocol, Generic[M]):
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.transport: asyncio.Transport | None = None
        self.extensions: dict[str, str] = {}  # EHLO keywords (upper case) -> parameters
        self.pipelining = False
        self.in_flight: list[M] = []  # handed over, outcome unknown yet
        self.rounds = 0  # completed exchanges, so a caller can tell a stale kept connection
        self._loop = asyncio.get_running_loop()
        self._buffer = bytearray()
        self._lines: list[str] = []  # text of the reply being read (multi-line replies)
        self._replies: deque[tuple[int, str]] = deque()
        self._error: SmtpDisconnected | None = None
        self._waiter: asyncio.Future | None = None
        self._wanted = 0
        self._dirty = False  # a refused transaction may have left an envelope: RSET before the next

    # ------------------------------------------------------------------ asyncio protocol
    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        start = 0
        while (end := buffer.find(b"\n", start)) >= 0:
            line = bytes(buffer[start:end]).rstrip(b"\r")
            start = end + 1
            if len(line) < 3 or not line[:3].isdigit() or line[3:4] not in (b"", b" ", b"-"):
                return self._fail(SmtpDisconnected(f"unreadable reply {line[:80]!r}"))
            self._lines.append(line[4:].decode("utf-8", "replace"))
            if line[3:4] != b"-":
                self._replies.append((int(line[:3]), "\n".join(self._lines)))
                self._lines = []
        del buffer[:start]
        if len(buffer) > MAX_PENDING:
            return self._fail(SmtpDisconnected("reply line too long"))
        if self._waiter is not None and len(self._replies) >= self._wanted and not self._waiter.done():
            self._waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(SmtpDisconnected(f"connection lost ({exc})" if exc else "connection closed by the server"))

    def _fail(self, error: SmtpDisconnected) -> None:
        if self._error is None:
            self._error = error
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(self._error)
        if self.transport is not None:
            self.transport.abort()

    @property
    def usable(self) -> bool:
        """Open, in a known state, and nothing said by the server unasked (an idle 421)."""
        return (self._error is None and not self._replies and self.transport is not None
                and not self.transport.is_closing())

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    @property
    def _open_transport(self) -> asyncio.Transport:
        """The transport once connected (commands are only sent after ``connection_made``)."""
        if self.transport is None:
            raise SmtpDisconnected("not connected")
        return self.transport

    # ------------------------------------------------------------------ commands and replies
    def _write(self, data: bytes) -> None:
        # The server may have closed the connection right after its last reply: say so as a
        # disconnection (uvloop raises RuntimeError on a closed transport, asyncio drops the data).
        if self._error is not None:
            raise self._error
        transport = self._open_transport
        if transport.is_closing():
            raise SmtpDisconnected("connection closing")
        transport.write(data)

    async def _read(self, count: int) -> list[tuple[int, str]]:
        if len(self._replies) < count:
            if self._error is not None:
                raise self._error
            self._wanted, self._waiter = count, self._loop.create_future()
            self._timer = self._loop.call_later(self.timeout, self._on_timeout,
                                               self._open_transport.get_write_buffer_size())
            try:
                await self._waiter
            finally:
                self._timer.cancel()
                self._waiter = None
        return [self._replies.popleft() for _ in range(count)]

    def _on_timeout(self, unsent: int) -> None:
        left = self._open_transport.get_write_buffer_size()
        if 0 < left < unsent:  # still writing a large message: progress, not a dead server
            self._timer = self._loop.call_later(self.timeout, self._on_timeout, left)
        else:
            self._fail(SmtpTimeout(f"no reply within {self.timeout:g} s"))

    async def command(self, line: str, expect: int, name: str | None = None) -> str:
        """One command (only read a reply when ``line`` is empty), its reply checked against ``expect``;
        ``name`` stands for the command in errors (never the line itself: it may hold credentials)."""
        if line:
            self._write(line.encode() + b"\r\n")
        ((code, text),) = await self._read(1)
        if (error := reply_outcome(name or line or "greeting", code, text, expect)) is not None:
            raise error
        return text

    # ------------------------------------------------------------------ session set-up
    async def handshake(self, host: str, starttls: ssl.SSLContext | None, username: str | None,
                        password: str | None) -> None:
        await self.command("", 220)
        await self._ehlo()
        if starttls is not None:
            if "STARTTLS" not in self.extensions:
                raise SmtpError("the SMTP server does not offer STARTTLS")
            await self.command("STARTTLS", 220)
            self.transport = await asyncio.wait_for(
                self._loop.start_tls(self._open_transport, self, starttls, server_hostname=host), self.timeout)
            await self._ehlo()
        if username is not None:
            await self._login(username, password or "")

    async def _ehlo(self) -> None:
        self._write(f"EHLO {local_hostname()}\r\n".encode())
        ((code, text),) = await self._read(1)
        if 500 <= code < 600:  # an old server: HELO, no extensions
            await self.command(f"HELO {local_hostname()}", 250)
            text = ""
        else:
            if (error := reply_outcome("EHLO", code, text, 250)) is not None:
                raise error
        self.extensions = {}
        for line in text.split("\n")[1:]:
            keyword, _, params = line.partition(" ")
            self.extensions[keyword.upper()] = params
        self.pipelining = "PIPELINING" in self.extensions

    async def _login(self, username: str, password: str) -> None:
        mechanisms = self.extensions.get("AUTH", "").upper().split()
        if "PLAIN" in mechanisms:
            token = base64.b64encode(f"\0{username}\0{password}".encode()).decode()
            await self.command(f"AUTH PLAIN {token}", 235, "AUTH")
        elif "LOGIN" in mechanisms:
            await self.command("AUTH LOGIN", 334, "AUTH")
            await self.command(base64.b64encode(username.encode()).decode(), 334, "AUTH")
            await self.command(base64.b64encode(password.encode()).decode(), 235, "AUTH")
        else:
            raise SmtpError(f"no AUTH mechanism in common (server: {mechanisms or 'none'}; client: PLAIN, LOGIN)")

    # ------------------------------------------------------------------ transactions
    async def _exchange(self, units: list[bytes]) -> list[tuple[int, str]]:
        """Each unit asks one reply: all in one write when pipelining, else one at a time."""
        if self.pipelining:
            self._write(b"".join(units))
            return await self._read(len(units))
        replies = []
        for unit in units:
            self._write(unit)
            replies += await self._read(1)
        return replies

    async def send_all(self, first: M, next_message: Callable[[], M | None],
                       done: Callable[[M, Exception | None], None]) -> None:
        """Send ``first``, then what ``next_message()`` returns until ``None``, reporting each
        outcome to ``done``. Raises ``SmtpDisconnected`` with the undecided ones in ``in_flight``."""
        in_flight = self.in_flight
        ready: M | None = None  # its DATA got 354: its content leaves with the next write
        current: M | None = first
        while True:
            units = [data_block(ready.raw)] if ready is not None else []
            while current is not None:
                try:
                    units += self._envelope(current)
                    break
                except SmtpError as exc:  # refused here, nothing sent
                    done(current, exc)
                    current = next_message()
            if not units:
                return
            if current is not None:
                in_flight.append(current)
            replies = await self._exchange(units)
            self.rounds += 1
            if ready is not None:
                error = reply_outcome("end of data", *replies[0], 250)
                in_flight.remove(ready)
                done(ready, error)
                del replies[0]
            ready = current
            if current is not None:
                if len(replies) == 4 and reply_outcome("RSET", *replies[0], 250) is not None:
                    raise SmtpDisconnected(f"RSET {replies[0][0]} {replies[0][1]}")
                (mail, mail_text), (rcpt, rcpt_text), (data, data_text) = replies[-3:]
                error = (reply_outcome("MAIL FROM", mail, mail_text, 250) or reply_outcome("RCPT TO", rcpt, rcpt_text, 250)
                         or reply_outcome("DATA", data, data_text, 354))
                if error is not None:
                    if data == 354:  # 354 after a refused step: a transaction nobody should complete
                        raise SmtpDisconnected(f"DATA {data} after {error}")
                    in_flight.remove(current)
                    self._dirty = True
                    ready = None
                    done(current, error)
                current = next_message()

    def _envelope(self, message: Message) -> list[bytes]:
        """MAIL, RCPT and DATA of one message (after RSET if a refused transaction came before)."""
        sender, recipient, params = message.sender, message.recipient, ""
        if UNSAFE_ADDRESS.search(sender) or UNSAFE_ADDRESS.search(recipient) or not recipient:
            raise SmtpError("address unusable in an SMTP envelope")
        if "SIZE" in self.extensions:
            params = f" SIZE={len(message.raw)}"
        if not message.raw.isascii() and "8BITMIME" in self.extensions:
            params += " BODY=8BITMIME"
        if not (sender.isascii() and recipient.isascii()):
            if "SMTPUTF8" not in self.extensions:
                raise SmtpError("non-ASCII address and the SMTP server does not offer SMTPUTF8")
            params += " SMTPUTF8"
        units = [f"MAIL FROM:<{sender}>{params}\r\n".encode(), f"RCPT TO:<{recipient}>\r\n".encode(), b"DATA\r\n"]
        if self._dirty:
            units.insert(0, b"RSET\r\n")
            self._dirty = False  # a refused RSET raises: the connection is then dropped anyway
        return units
