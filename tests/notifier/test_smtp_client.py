"""The platform's SMTP client against real aiosmtpd servers: pipelined and one-command-at-a-time
sessions, refused recipients (5xx and 4xx), 421, a connection dropped in the middle of a batch,
a silent server, dot-stuffing, replies cut anywhere, STARTTLS/SMTPS with AUTH through the sender."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import threading
from dataclasses import dataclass

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlmodel import select

from services.notifier.models import OutboundEmail
from services.notifier.sender import OutboundSender
from services.notifier.service import threads
from shared.platform import smtp
from shared.platform.db import unit_of_work
from tests.notifier.support import COMPANY, COPY, LEAD, routed_event, run
from tests.support.servers import free_port


@dataclass
class Msg:
    sender: str
    recipient: str
    raw: bytes


def msg(n: int, recipient: str = "rbe@ac-lyon.fr", body: bytes = b"Bonjour.\r\n") -> Msg:
    return Msg(f"reply+{n}@reponse.test", recipient, b"Subject: message %d\r\n\r\n" % n + body)


class Server:
    """aiosmtpd with scripted replies: ``rcpt`` maps a recipient to its RCPT reply, ``drop`` holds
    recipients whose first DATA closes the connection instead of answering."""

    def __init__(self, pipelining: bool = True, **controller) -> None:
        self.pipelining, self.rcpt, self.drop = pipelining, {}, set()
        self.received: list[tuple[str, list[str], bytes]] = []
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port(), **controller)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        session.host_name = hostname
        return responses[:-1] + ["250-PIPELINING"] + responses[-1:] if self.pipelining else responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.rcpt:
            return self.rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if envelope.rcpt_tos[0] in self.drop:
            self.drop.discard(envelope.rcpt_tos[0])
            server.transport.abort()  # gone after the content, before the reply
            return "250 OK"
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


@pytest.fixture
def server(request):
    srv = Server(pipelining=getattr(request, "param", True))
    srv.controller.start()
    yield srv
    srv.controller.stop()


async def send(port: int, messages: list[Msg], timeout_s: float = 5) -> tuple[smtp.SmtpConnection, dict]:
    """``messages`` over one connection; outcomes by recipient + sender; ``conn.writes`` counted."""
    conn = await smtp.connect("127.0.0.1", port, timeout_s=timeout_s)
    conn.writes, write = 0, conn.transport.write

    def counting_write(data: bytes) -> None:
        conn.writes += 1
        write(data)

    conn.transport.write = counting_write
    outcomes: dict[str, Exception | None] = {}
    rest = iter(messages[1:])
    try:
        await conn.send_all(messages[0], lambda: next(rest, None),
                            lambda m, error: outcomes.__setitem__(m.recipient + m.sender, error))
    finally:
        conn.close()
    return conn, outcomes


@pytest.mark.parametrize("server", [True, False], ids=["pipelined", "one-by-one"], indirect=True)
def test_a_batch_on_one_connection_keeps_each_envelope(server):
    messages = [msg(n, f"rbe{n}@ac-lyon.fr") for n in range(5)]
    conn, outcomes = run(send(server.controller.port, messages))
    assert conn.pipelining is server.pipelining
    assert list(outcomes.values()) == [None] * 5 and conn.in_flight == []
    assert [(m[0], m[1], m[2]) for m in server.received] == [(m.sender, [m.recipient], m.raw) for m in messages]
    # Pipelined: each write carries a content and the next envelope (one write per message + 1);
    # otherwise MAIL, RCPT, DATA and the content wait for each other's reply.
    assert conn.writes == (6 if server.pipelining else 20)


@pytest.mark.parametrize("server", [True, False], ids=["pipelined", "one-by-one"], indirect=True)
def test_refused_recipients_fail_alone_and_the_connection_goes_on(server):
    server.rcpt = {"inconnu@ac-lyon.fr": "550 5.1.1 Boîte inconnue", "pleine@ac-lyon.fr": "452 4.2.2 Boîte pleine"}
    messages = [msg(1), msg(2, "inconnu@ac-lyon.fr"), msg(3, "pleine@ac-lyon.fr"), msg(4)]
    conn, outcomes = run(send(server.controller.port, messages))
    refused, full = outcomes["inconnu@ac-lyon.frreply+2@reponse.test"], outcomes["pleine@ac-lyon.frreply+3@reponse.test"]
    assert isinstance(refused, smtp.SmtpPermanentError) and (refused.command, refused.code) == ("RCPT TO", 550)
    assert isinstance(full, smtp.SmtpTemporaryError) and full.code == 452 and "Boîte pleine" in str(full)
    assert [m[0] for m in server.received] == ["reply+1@reponse.test", "reply+4@reponse.test"]  # RSET worked


def test_421_and_a_connection_dropped_mid_batch_leave_the_undecided_in_flight(server):
    server.drop = {"coupe@ac-lyon.fr"}
    messages = [msg(1), msg(2, "coupe@ac-lyon.fr"), msg(3), msg(4)]
    conn = None

    async def scenario():
        nonlocal conn
        conn = await smtp.connect("127.0.0.1", server.controller.port, timeout_s=5)
        rest, outcomes = iter(messages[1:]), []
        with pytest.raises(smtp.SmtpDisconnected):
            await conn.send_all(messages[0], lambda: next(rest, None), lambda m, e: outcomes.append((m, e)))
        return outcomes

    assert run(scenario()) == [(messages[0], None)]
    # The dropped content had no reply; the next envelope left with it: both are undecided.
    assert conn.in_flight == messages[1:3] and not conn.usable
    server.rcpt = {"rbe@ac-lyon.fr": "421 4.3.2 Arrêt du service"}
    conn421 = None

    async def closing():
        nonlocal conn421
        conn421 = await smtp.connect("127.0.0.1", server.controller.port, timeout_s=5)
        with pytest.raises(smtp.SmtpDisconnected, match="421"):
            await conn421.send_all(msg(5), lambda: None, lambda m, e: None)

    run(closing())
    assert [m.sender for m in conn421.in_flight] == ["reply+5@reponse.test"]


def test_on_uvloop_as_in_production(server):
    """uvicorn runs the service on uvloop (its transports raise on a write after close)."""
    import uvloop

    server.rcpt, server.drop = {"inconnu@ac-lyon.fr": "550 5.1.1 Boîte inconnue"}, {"coupe@ac-lyon.fr"}
    messages = [msg(1), msg(2, "inconnu@ac-lyon.fr"), msg(3), msg(4, "coupe@ac-lyon.fr"), msg(5)]
    result: dict = {}

    async def scenario():
        conn = await smtp.connect("127.0.0.1", server.controller.port, timeout_s=5)
        rest, outcomes = iter(messages[1:]), []
        try:
            await conn.send_all(messages[0], lambda: next(rest, None), lambda m, e: outcomes.append(e))
        except smtp.SmtpDisconnected:
            result["in_flight"] = [m.sender for m in conn.in_flight]
        result["outcomes"] = [type(e).__name__ if e else None for e in outcomes]

    thread = threading.Thread(target=lambda: uvloop.run(scenario()))
    thread.start()
    thread.join()
    assert result == {"outcomes": [None, "SmtpPermanentError", None],
                      "in_flight": ["reply+4@reponse.test", "reply+5@reponse.test"]}
    assert [m[0] for m in server.received] == ["reply+1@reponse.test", "reply+3@reponse.test"]


def test_a_silent_server_times_out():
    async def scenario():
        async def silent(reader, writer):
            writer.write(b"220 bonjour\r\n")
            await reader.readline()
            writer.write(b"250-mx.test\r\n250 PIPELINING\r\n")
            await asyncio.sleep(5)  # reads nothing more, answers nothing

        srv = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        conn = await smtp.connect("127.0.0.1", port, timeout_s=0.3)
        try:
            with pytest.raises(smtp.SmtpTimeout):
                await conn.send_all(msg(1), lambda: None, lambda m, e: None)
            return conn
        finally:
            conn.close()
            srv.close()

    conn = run(scenario())
    assert len(conn.in_flight) == 1


def test_dot_stuffing_and_line_ends(server):
    body = b".Une ligne qui commence par un point\r\n..deux\r\n.\r\nfin\nLF seul\r\n"
    run(send(server.controller.port, [msg(1, body=body)]))
    expected = b"Subject: message 1\r\n\r\n" + body.replace(b"fin\n", b"fin\r\n")
    assert server.received[0][2] == expected
    assert smtp.data_block(b".a\r\n.") == b"..a\r\n..\r\n.\r\n"


def test_replies_cut_anywhere_and_multi_line():
    async def scenario():
        conn = smtp.SmtpConnection(timeout=1)
        stream = b"250-mx.test bonjour\r\n250-PIPELINING\r\n250 SIZE 100\r\n550 5.1.1 non\r\n354 vas-y\r\n"
        for i in range(len(stream)):  # one byte at a time
            conn.data_received(stream[i:i + 1])
        return list(conn._replies)

    assert run(scenario()) == [(250, "mx.test bonjour\nPIPELINING\nSIZE 100"), (550, "5.1.1 non"), (354, "vas-y")]


def test_unsafe_addresses_are_refused_before_anything_is_sent(server):
    messages = [msg(1, "a@b.fr>\r\nRCPT TO:<pirate@x.fr"), msg(2)]
    _, outcomes = run(send(server.controller.port, messages))
    assert isinstance(next(iter(outcomes.values())), smtp.SmtpError) and list(outcomes.values())[1] is None
    assert [m[1] for m in server.received] == [["rbe@ac-lyon.fr"]]


# ------------------------------------------------------------------ TLS and AUTH, through the sender
@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return cert, context


def _authenticator(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=(auth_data.login, auth_data.password) == (b"notifier", b"s3cret:/@"), handled=False)


@pytest.mark.parametrize("scheme", ["smtp+starttls", "smtps"])
def test_tls_and_auth_through_the_sender(scheme, certificate, engine, ctx, clock, monkeypatch):
    cert, server_context = certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client verifies the server as in production
    # smtps: AUTH LOGIN; aiosmtpd only counts STARTTLS as TLS for auth_require_tls
    tls = {"tls_context": server_context, "require_starttls": True, "auth_require_tls": True} \
        if scheme == "smtp+starttls" else {"ssl_context": server_context, "auth_exclude_mechanism": ["PLAIN"],
                                          "auth_require_tls": False}
    server = Server(authenticator=_authenticator, **tls)
    server.controller.start()
    try:
        with unit_of_work(engine) as session:
            threads.start_thread(session, ctx, routed_event())
        url = f"{scheme}://notifier:s3cret%3A%2F%40@127.0.0.1:{server.controller.port}"
        sender = OutboundSender(engine, ctx.settings.model_copy(update={"smtp_url": url, "smtp_timeout_s": 3}), clock)

        async def one_pass() -> int:
            try:
                return await sender.send_due()
            finally:
                await sender.close()

        assert run(one_pass()) == 3
        assert sorted(r[1][0] for r in server.received) == sorted([LEAD, COPY, COMPANY])
        with unit_of_work(engine) as session:
            threads.start_thread(session, ctx, routed_event())
        sender = OutboundSender(engine, ctx.settings.model_copy(update={"smtp_url": url.replace("s3cret", "faux"),
                                                                      "smtp_timeout_s": 3}), clock)
        assert run(one_pass()) == 3 and len(server.received) == 3
        with unit_of_work(engine) as session:
            errors = {r.last_error for r in session.exec(select(OutboundEmail)) if r.status == "pending"}
        assert len(errors) == 1 and "AUTH 535" in errors.pop()  # the command, never the credentials
    finally:
        server.controller.stop()
