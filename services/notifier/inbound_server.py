"""The inbound SMTP server (aiosmtpd) that receives replies to ``reply+…@<reply_domain>``.

RCPT refuses (550) any address that is not a genuinely signed reply address; MAIL (SIZE=) and
DATA refuse oversized messages (552). An accepted message is stored raw and committed BEFORE it
is processed, so a crash during processing loses nothing: ``process_pending_inbound`` resumes it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import AnyStr

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from sqlalchemy import Engine

from services.notifier import metrics
from services.notifier import repository as repo
from services.notifier.models import InboundEmail
from services.notifier.service.addresses import verify_reply_address
from services.notifier.service.inbound import process
from services.notifier.service.mailer import NotifierContext
from shared.platform.db import unit_of_work
from shared.platform.logging import correlation_scope, get_logger

log = get_logger(__name__)
TOO_LARGE = "552 5.3.4 Message trop volumineux"


def process_inbound(engine: Engine, ctx: NotifierContext, inbound_id: str) -> str | None:
    """Boundary: process one stored inbound message in its own transaction."""
    with correlation_scope(None):
        try:
            with unit_of_work(engine) as session:
                row = repo.inbound(session, inbound_id)
                if row is None or row.outcome != "received":
                    return None
                outcome = process(session, ctx, row)
            log.info("inbound_processed", inbound_id=inbound_id, outcome=outcome)
            return outcome
        except Exception as exc:  # stays "received": retried by the next pass
            log.warning("inbound_processing_failed", inbound_id=inbound_id, error=type(exc).__name__)
            return None


def process_pending_inbound(engine: Engine, ctx: NotifierContext) -> int:
    with unit_of_work(engine) as session:
        ids = list(repo.unprocessed_inbound_ids(session))
    return sum(1 for i in ids if process_inbound(engine, ctx, i) is not None)


class InboundHandler:
    def __init__(self, engine: Engine, ctx: NotifierContext, on_processed: Callable[[], None] = lambda: None) -> None:
        self.engine = engine
        self.ctx = ctx
        self.on_processed = on_processed

    @property
    def limit(self) -> int:
        return self.ctx.settings.inbound_max_bytes

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802 - aiosmtpd API
        for option in mail_options:
            key, _, value = option.partition("=")
            if key.upper() == "SIZE" and value.isascii() and value.isdigit() and int(value) > self.limit:
                return TOO_LARGE  # counted by _CountingSMTP.push, like aiosmtpd's own refusals
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        s = self.ctx.settings
        if verify_reply_address(s.secret_key, s.reply_domain, address) is None:
            metrics.INBOUND_MESSAGES.labels("bad_token").inc()
            return "550 5.1.1 Adresse de reponse inconnue"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        if len(raw) > self.limit:
            return TOO_LARGE
        try:
            peer = session.peer if isinstance(session.peer, tuple) and session.peer else ("",)
            connection = json.dumps({"client_ip": str(peer[0])[:45], "helo": str(session.host_name or "")[:255]})
            ids = await asyncio.to_thread(self._store, envelope.mail_from or "", list(envelope.rcpt_tos), raw,
                                          connection)
        except Exception as exc:
            log.error("inbound_store_failed", error=type(exc).__name__)
            return "451 4.3.0 Erreur temporaire, reessayez plus tard"
        for inbound_id in ids:
            await asyncio.to_thread(process_inbound, self.engine, self.ctx, inbound_id)
        self.on_processed()
        return "250 Message accepte"

    def _store(self, mail_from: str, rcpts: list[str], raw: bytes, connection: str | None = None) -> list[str]:
        """Stored with the connection (client address, HELO name) that the sender checks need."""
        with unit_of_work(self.engine) as session:
            rows = [InboundEmail(rcpt=r[:320], mail_from=mail_from[:320], raw=raw, auth=connection) for r in rcpts]
            repo.add(session, *rows)
            return [r.id for r in rows]


class _CountingSMTP(SMTP):
    """aiosmtpd refuses oversize mail by itself (a SIZE= above the limit, data past it): every 552 is counted,
    whoever said it, so the metric shows all of them."""

    async def push(self, status: AnyStr) -> None:
        if (status if isinstance(status, str) else status.decode("ascii", "replace")).startswith("552"):
            metrics.INBOUND_MESSAGES.labels("too_large").inc()
        await super().push(status)


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _CountingSMTP(self.handler, **self.SMTP_kwargs)


class InboundServer:
    def __init__(self, handler: InboundHandler, host: str, port: int) -> None:
        # The EHLO answer advertises exactly MLP_INBOUND_MAX_BYTES (SIZE), the limit the docs state.
        self.controller = _Controller(handler, hostname=host, port=port, data_size_limit=handler.limit,
                                      ready_timeout=10)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()
