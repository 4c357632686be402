"""Local SMTP sink for development: every message sent by the notifier lands in var/mailbox/
as an .eml file a developer can open (and `monlyceepro mailbox` lists)."""

from __future__ import annotations

import asyncio
import time
import uuid
from email import message_from_bytes, policy
from pathlib import Path

from aiosmtpd.controller import Controller


class PipeliningAdvertised:
    """Says PIPELINING in the EHLO answer, as Postfix and other production relays do: aiosmtpd
    reads commands line by line and copes with pipelined ones, but does not advertise it, so the
    notifier would fall back on one round trip per command."""

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802 - aiosmtpd API
        session.host_name = hostname
        responses.insert(-1, "250-PIPELINING")
        return responses


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
    controller = Controller(MaildirHandler(directory), hostname=host, port=port)
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
