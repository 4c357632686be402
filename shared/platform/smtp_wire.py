"""The SMTP client's vocabulary (``shared.platform.smtp``): what a connection carries, the errors it
reports, and how a reply and a message's content are read and written on the wire."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from functools import cache
from typing import Protocol, TypeVar


class Message(Protocol):
    # Read-only members: a frozen dataclass (``Envelope``, the notifier's leased rows) is a Message.
    @property
    def sender(self) -> str: ...  # envelope sender (MAIL FROM), "" for a null reverse path

    @property
    def recipient(self) -> str: ...

    @property
    def raw(self) -> bytes: ...  # the message, CRLF line ends expected (others are normalised)


M = TypeVar("M", bound=Message)  # what a connection carries: ``done`` and ``in_flight`` give it back


@dataclass(frozen=True, slots=True)
class Envelope:
    """A ``Message``: one message and its envelope."""

    sender: str
    recipient: str
    raw: bytes


class SmtpError(Exception):
    """Refused by this client before anything is sent (bad address, missing extension)."""


class SmtpReplyError(SmtpError):
    """The server refused one step of a transaction with a 4xx or 5xx reply."""

    def __init__(self, command: str, code: int, text: str) -> None:
        super().__init__(f"{command} {code} {text}")
        self.command, self.code, self.text = command, code, text


class SmtpTemporaryError(SmtpReplyError):
    """4xx: try again later."""


class SmtpPermanentError(SmtpReplyError):
    """5xx: refused."""


class SmtpDisconnected(ConnectionError):
    """The connection is unusable; what it carried has no known outcome."""


class SmtpTimeout(SmtpDisconnected):
    """No reply and no progress writing for ``timeout`` seconds."""


UNSAFE_ADDRESS = re.compile(r"[\x00-\x20\x7f<>]")  # would end the path or inject a command
_LINE_END = re.compile(rb"\r\n|\r|\n")
MAX_PENDING = 1 << 20  # bytes of reply without a complete line: not an SMTP server


@cache
def local_hostname() -> str:
    name = socket.getfqdn()
    return name if name.isascii() and name and " " not in name else "localhost"


def data_block(raw: bytes) -> bytes:
    """The content as sent after DATA: CRLF line ends, dot-stuffed (RFC 5321 4.5.2), terminated."""
    crlf = raw.count(b"\r\n")
    if raw.count(b"\n") != crlf or raw.count(b"\r") != crlf:
        raw = _LINE_END.sub(b"\r\n", raw)
    if b"\n." in raw:
        raw = raw.replace(b"\r\n.", b"\r\n..")
    if raw.startswith(b"."):
        raw = b"." + raw
    return raw + (b".\r\n" if raw.endswith(b"\r\n") else b"\r\n.\r\n")


def reply_outcome(command: str, code: int, text: str, expect: int) -> SmtpReplyError | None:
    """None for the expected reply, the refusal for a 4xx/5xx; raises when the connection cannot go on
    (421: the server is closing it; any other code does not fit the command)."""
    if code == expect or (expect == 250 and 200 <= code < 300):
        return None
    if code == 421 or not 400 <= code < 600:
        raise SmtpDisconnected(f"{command} {code} {text}")
    return (SmtpTemporaryError if code < 500 else SmtpPermanentError)(command, code, text)
