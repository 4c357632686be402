"""Local SMTP sink for development: every message sent by the notifier lands in var/mailbox/
as an .eml file a developer can open (and `monlyceepro mailbox` lists).

The server is aiosmtpd's with three costs taken out (``SinkSMTP``), as the sink shares the
machine with the services in development and in the benchmarks: a message's content is read in
blocks, not line by line (aiosmtpd awaits one ``readuntil`` per line, ~125 per notifier email);
replies to pipelined commands leave in one write (aiosmtpd writes each one); plain
``<local@domain>`` paths are read by a regular expression (aiosmtpd runs the email package's
header parser on each MAIL and RCPT).
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from email import message_from_bytes, policy
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, syntax


class PipeliningAdvertised:
    """Says PIPELINING in the EHLO answer, as Postfix and other production relays do: aiosmtpd
    reads commands line by line and copes with pipelined ones, but does not advertise it, so the
    notifier would fall back on one round trip per command."""

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802 - aiosmtpd API
        session.host_name = hostname
        responses.insert(-1, "250-PIPELINING")
        return responses


_END = b".\r\n"  # a line holding only this ends the content (RFC 5321 4.1.1.4)


_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_PATH = re.compile(rf"<({_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>[ \t]*")
_CLOSING = (b"220", b"221", b"421")  # replies after which the server switches to TLS or closes


class SinkSMTP(SMTP):
    """aiosmtpd's SMTP server, answering what aiosmtpd answers, at a lower cost.

    DATA reads the content up to each ``.<CRLF>`` (which ends a line of text now and then) instead
    of line by line; it hands the handler what aiosmtpd's own DATA does: dot-stuffing undone
    (RFC 5321 4.5.2), 552 past ``data_size_limit``, 500 for a line longer than
    ``line_length_limit``, both answered once the content has been read. A reply is held while
    more pipelined commands are already read (RFC 2920 lets the server group its replies) and
    leaves with the last one; 220, 221 and 421 leave at once (TLS or the close follows)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._held = bytearray()  # replies not written yet
        self._flush_soon = False

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        match = _PLAIN_PATH.match(arg)
        if match is None or arg.startswith("(", match.end()):  # anything else (comments, quotes...): aiosmtpd's parser
            return super()._getaddr(arg)
        address = match.group(1)
        if self.local_part_limit and len(address.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return address, arg[match.end():]

    async def push(self, status: str | bytes) -> None:
        response = status.encode("utf-8" if self.enable_SMTPUTF8 else "ascii") if isinstance(status, str) else status
        self._held += response + b"\r\n"
        # More pipelined input already read: its replies follow at once, in the same write. (The
        # reader's buffer is private to asyncio; it has been a bytearray named so since 3.4.)
        if getattr(self._reader, "_buffer", None) and not response.startswith(_CLOSING):
            if not self._flush_soon:  # in case no other reply comes before the loop turns
                self._flush_soon = True
                self.loop.call_soon(self._flush)
            return
        self._flush()
        await self._writer.drain()

    def _flush(self) -> None:
        self._flush_soon = False
        if self._held:
            data = bytes(self._held)
            self._held.clear()
            if self.transport is not None and not self.transport.is_closing():
                self._writer.write(data)

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:  # noqa: N802 - aiosmtpd API
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        content = await self._read_content()
        if content is None:
            return
        if content.startswith(b"."):
            content = content[1:]
        if b"\r\n." in content:
            content = content.replace(b"\r\n.", b"\r\n")  # each line's leading dot
        decoded: str | bytes = content
        if self._decode_data:
            if self.enable_SMTPUTF8:
                decoded = content.decode("utf-8", errors="surrogateescape")
            else:
                try:
                    decoded = content.decode("ascii", errors="strict")
                except UnicodeDecodeError:
                    await self.push("500 Error: strict ASCII mode")
                    return
        self.envelope.content = decoded
        self.envelope.original_content = content
        status = await self._call_handler_hook("DATA") if "DATA" in self._handle_hooks else MISSING
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)

    async def _read_content(self) -> bytes | None:
        """The content as sent (still dot-stuffed, without the final ``.<CRLF>``), or None once a
        552 or 500 has been answered. The reader's limit (``line_length_limit``) caps each read:
        past it, the bytes before any separator are taken as they are."""
        reader, limit = self._reader, self.data_size_limit
        data = bytearray()
        size, too_much, tail = 0, False, b""  # tail: the last bytes read, for an end mark split across reads
        while True:
            try:
                chunk = await reader.readuntil(_END)
            except asyncio.LimitOverrunError as exc:
                chunk = await reader.read(exc.consumed)  # no end mark in it
            except asyncio.CancelledError:  # the connection was lost (aiosmtpd cancels DATA)
                self._writer.close()
                raise
            # ``.<CRLF>`` ends the content when its dot starts a line: first in the content or after a CRLF.
            ended = chunk.endswith(_END) and ((size == 0 and chunk == _END) or (tail + chunk).endswith(b"\r\n" + _END))
            body = chunk[: -len(_END)] if ended else chunk
            tail = (tail + chunk)[-4:]
            size += len(body)
            if not too_much:
                if limit and size > limit:
                    too_much, data = True, bytearray()  # dropped at once, as aiosmtpd does
                else:
                    data += body
            if ended:
                break
        if too_much:
            await self.push("552 Error: Too much mail data")
        elif data and max(map(len, data.split(b"\r\n"))) + 2 > self.line_length_limit:
            await self.push("500 Line too long (see RFC5321 4.5.3.1.6)")
        else:
            return bytes(data)
        self._set_post_data_state()
        return None


class SinkController(Controller):
    """aiosmtpd's controller, serving ``SinkSMTP``."""

    def factory(self) -> SMTP:
        return SinkSMTP(self.handler, **self.SMTP_kwargs)


class MaildirHandler(PipeliningAdvertised):
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
        name = f"{time.time():.6f}-{uuid.uuid4().hex[:8]}.eml"
        tmp = self.directory / f".{name}"
        tmp.write_bytes(envelope.original_content or envelope.content)
        tmp.rename(self.directory / name)
        return "250 Message accepted for delivery"


def serve_mailsink(host: str, port: int, directory: Path) -> None:
    controller = SinkController(MaildirHandler(directory), hostname=host, port=port)
    controller.start()
    print(f"Boîte de développement SMTP sur {host}:{port} -> {directory}", flush=True)
    try:
        asyncio.run(asyncio.Event().wait())
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


def list_mailbox(directory: Path) -> list[tuple[str, str, str]]:
    rows = []
    for path in sorted(directory.glob("*.eml")):
        msg = message_from_bytes(path.read_bytes(), policy=policy.default)
        rows.append((path.name, str(msg.get("To", "")), str(msg.get("Subject", ""))))
    return rows
