"""The sink `monlyceepro up` runs (``services.mailsink.SinkSMTP``) answers what aiosmtpd's own
server answers and records the same content: each conversation below is played, byte for byte,
against both, in one write (pipelined) and in small pieces (a reply may not wait for input that
has not come yet)."""

from __future__ import annotations

import socket
import time

import pytest
from aiosmtpd.controller import Controller

from services.mailsink import PipeliningAdvertised, SinkController
from tests.support.servers import free_port


class _Keep(PipeliningAdvertised):
    def __init__(self) -> None:
        self.got: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
        self.got.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


def _message(body: bytes) -> bytes:
    return b"Subject: test\r\n\r\n" + body


def _transaction(body: bytes, sender: bytes = b"<a@example.fr>", rcpt: bytes = b"<b@example.fr>") -> bytes:
    return b"MAIL FROM:" + sender + b"\r\nRCPT TO:" + rcpt + b"\r\nDATA\r\n" + body + b".\r\n"


LONG = b"x" * 1200
CONVERSATIONS = {
    "plain": _transaction(_message(b"Bonjour.\r\nLigne.\r\n")),
    "dot-stuffed": _transaction(_message(b"..\r\n..debut\r\nfin.\r\n.x\r\n")),
    "empty": _transaction(b""),
    "dot first": _transaction(b"..a\r\n"),
    "end mark after a period": _transaction(_message(b"a.\r\n")),
    "long message": _transaction(_message(b"".join(b"ligne %d de texte assez longue.\r\n" % i
                                                   for i in range(400)))),
    "line too long": _transaction(_message(LONG + b"\r\n")) + _transaction(_message(b"ok\r\n")),
    "line too long, several reads": _transaction(_message(b"a\r\n" + LONG * 3 + b".\r\n")),
    "too much data": _transaction(_message(b"y" * 900 + b"\r\n") * 40),
    "two in a row": _transaction(_message(b"un\r\n")) + _transaction(_message(b"deux\r\n")),
    "null sender, size": _transaction(_message(b"x\r\n"), sender=b"<> SIZE=30"),
    "params and spaces": _transaction(_message(b"x\r\n"), sender=b"<a.b+c@x-y.example.fr>   SIZE=30"),
    "comment after path": _transaction(_message(b"x\r\n"), sender=b"<a@example.fr> (c)"),
    "quoted local part": _transaction(_message(b"x\r\n"), rcpt=b"<\"a b\"@example.fr>"),
    "bad path": _transaction(_message(b"x\r\n"), rcpt=b"<a@@example.fr>"),
    "no angle brackets": _transaction(_message(b"x\r\n"), rcpt=b"b@example.fr"),
    "errors and reset": b"DATA\r\nMAIL FROM:<a@example.fr>\r\nDATA\r\nRSET\r\nNOOP\r\n",
}


def _play(controller_class, conversation: bytes, pieces: int) -> tuple[bytes, list]:
    handler = _Keep()
    port = free_port()
    controller = controller_class(handler, hostname="127.0.0.1", port=port, data_size_limit=20_000)
    controller.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            script = b"EHLO client.example\r\n" + conversation + b"QUIT\r\n"
            step = max(1, len(script) // pieces)
            for start in range(0, len(script), step):
                sock.sendall(script[start:start + step])
                if pieces > 1:
                    time.sleep(0.002)
            replies = b""
            while chunk := sock.recv(65536):
                replies += chunk
    finally:
        controller.stop()
    return replies, handler.got


@pytest.mark.parametrize("pieces", [1, 7])
@pytest.mark.parametrize("name", sorted(CONVERSATIONS))
def test_sink_answers_and_records_what_aiosmtpd_does(name: str, pieces: int) -> None:
    expected = _play(Controller, CONVERSATIONS[name], pieces)
    got = _play(SinkController, CONVERSATIONS[name], pieces)
    assert got == expected
    assert expected[0].endswith(b"221 Bye\r\n")
