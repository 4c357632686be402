"""The catalog's magic-link mail through the platform's SMTP client, against a real aiosmtpd server:
the envelope comes from the message's From and To, the content arrives intact, the session ends
with QUIT; a refused recipient or an unreachable server is a failed send, never an exception."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from services.catalog.mailer import magic_link_message, send
from shared.platform.settings import Settings
from tests.support.servers import free_port

RBE = "camille.martin@ac-lyon.fr"
LINK = "http://testserver/espace-rbe/connexion?jeton=abc.def"


class Recorder:
    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.refused: dict[str, str] = {}
        self.quits = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd API
        if address in self.refused:
            return self.refused[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"

    async def handle_QUIT(self, server, session, envelope):  # noqa: N802
        self.quits += 1
        return "221 Bye"


@pytest.fixture
def server():
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield recorder, f"smtp://127.0.0.1:{controller.port}"
    controller.stop()


async def test_a_magic_link_is_sent_from_the_service_address_to_the_rbe(server):
    recorder, url = server
    settings = Settings(env="test", smtp_url=url)
    assert await send(settings, magic_link_message(settings, RBE, LINK))
    [(mail_from, rcpts, raw)] = recorder.received
    assert (mail_from, rcpts) == ("ne-pas-repondre@monlyceepro.localhost", [RBE])
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["Subject"] == "Votre lien de connexion à l'espace RBE — MonLycéePro"
    assert msg["From"] == settings.mail_from and msg["To"] == RBE
    assert LINK in msg.get_content() and "valable 30 minutes" in msg.get_content()
    assert recorder.quits == 1


async def test_a_refused_recipient_or_no_server_is_a_failed_send(server):
    recorder, url = server
    recorder.refused = {RBE: "550 5.1.1 Boîte inconnue"}
    settings = Settings(env="test", smtp_url=url)
    assert not await send(settings, magic_link_message(settings, RBE, LINK))
    assert recorder.received == []
    nowhere = Settings(env="test", smtp_url=f"smtp://127.0.0.1:{free_port()}")
    assert not await send(nowhere, magic_link_message(nowhere, RBE, LINK))
