"""The notifier as a real process (``monlyceepro serve notifier``) with a real Redis, a real SMTP
sink and its real inbound SMTP server: routing to mailboxes, replies, SIGKILL, SMTP outage."""

from __future__ import annotations

import smtplib
import time
import uuid
from collections import Counter

import httpx
import pytest
import redis as redis_sync
from faststream.redis import RedisBroker
from sqlalchemy import create_engine, text

from shared.contracts.events import RoutedRecipient, Streams, event_to_payload
from tests.notifier.support import COMPANY, COPY, LEAD, reply_bytes, routed_event, run
from tests.support.eventually import eventually
from tests.support.live import ServiceProcess, service_env
from tests.support.servers import free_port
from tests.support.smtp import SmtpSink

pytestmark = pytest.mark.timeout(120)


def _publish(redis_url: str, event) -> None:
    async def go() -> None:
        broker = RedisBroker(redis_url, logger=None)
        await broker.connect()
        await broker.publish(event_to_payload(event), stream=event.stream)
        await broker.stop()

    run(go())


class Notifier(ServiceProcess):
    def start(self, wait_ready: bool = True, timeout: float = 60) -> Notifier:
        super().start(wait_ready, timeout)
        # Consumer groups are created when the broker starts; wait for them before publishing.
        r = redis_sync.Redis.from_url(self.env["MLP_REDIS_URL"])
        eventually(lambda: _has_group(r, Streams.REQUEST_ROUTED, "notifier"), what="the consumer group")
        return self


def _has_group(r, stream: str, group: str) -> bool:
    try:
        return any(g["name"] == group.encode() for g in r.xinfo_groups(stream))
    except redis_sync.ResponseError:
        return False


def _notifier(tmp_path, redis_url, sink_port: int, **extra: str) -> Notifier:
    env = service_env(tmp_path, redis_url, MLP_SMTP_URL=f"smtp://127.0.0.1:{sink_port}",
                      MLP_SEND_POLL_S="0.1", MLP_SEND_LEASE_S="5", **extra)
    return Notifier("notifier", env, log_dir=tmp_path / "logs")


def _failed_attempts(service: ServiceProcess) -> float:
    for line in httpx.get(service.url + "/metrics", timeout=5).text.splitlines():
        if line.startswith("mlp_email_send_errors_total "):
            return float(line.split()[1])
    return 0.0


def test_outage_reply_relay_then_sigkill_between_sends(tmp_path, redis_url):
    """One notifier process (starting it costs seconds), three stories in a row:

    1. the SMTP relay is down for a while: mail is delayed, none lost; then exactly one copy per
       participant with correct threading headers;
    2. the lead's reply over SMTP to their reply address is stripped and relayed to the company
       and the co-recipient, and ThreadMessage / AssignmentChanged reach the streams;
    3. SIGKILL between two sends, restart: no duplicate, nobody missed.
    """
    sink = SmtpSink(free_port())  # not started yet: the SMTP relay is down
    service = _notifier(tmp_path, redis_url, sink.port, MLP_SEND_RETRY_BASE_S="0.2", MLP_SEND_RETRY_MAX_S="1",
                        MLP_MAX_SEND_ATTEMPTS="100", MLP_SEND_PAUSE_S="0.3").start()
    try:
        # 1. outage, then one copy per participant
        _publish(redis_url, routed_event())
        eventually(lambda: _failed_attempts(service) >= 3, what="three failed send attempts")
        assert sink.messages == []
        sink.start()  # the relay comes back
        received = sink.wait_for(3)
        assert sorted(m.to for m in received) == sorted([LEAD, COPY, COMPANY])
        roots = {str(m.msg["References"]).split()[0] for m in received}
        assert len(roots) == 1 and len({str(m.msg["Message-ID"]) for m in received}) == 3
        assert all(str(m.msg["In-Reply-To"]).strip() in roots for m in received)

        # 2. the lead replies by email
        lead_reply_to = str(sink.to(LEAD)[0]["Reply-To"]).strip()
        inbound_port = int(service.env["MLP_INBOUND_SMTP_PORT"])
        eventually(lambda: _port_open(inbound_port), what="the inbound SMTP server listening")
        body = ("Bonjour,\n\nC'est possible pour mars, je vous appelle demain.\n\nCordialement,\nMarie\n\n"
                "Le lun. 23 nov. 2026 à 10:00, MonLycéePro a écrit :\n> Une entreprise cherche\n")
        with smtplib.SMTP("127.0.0.1", inbound_port, timeout=10) as smtp:
            smtp.sendmail(LEAD, [lead_reply_to], reply_bytes(sender=LEAD, to=lead_reply_to, subject="Re: x",
                                                             body=body))
        sink.wait_for(5)
        relayed = {m.to: m.msg for m in sink.messages[3:]}
        assert sorted(relayed) == sorted([COMPANY, COPY])
        for msg in relayed.values():
            content = msg.get_body(("plain",)).get_content()
            assert "je vous appelle demain" in content and "> Une entreprise" not in content
            assert str(msg["References"]).split()[0] in roots
        r = redis_sync.Redis.from_url(redis_url)
        eventually(lambda: r.exists(Streams.THREAD_MESSAGE) and r.xlen(Streams.THREAD_MESSAGE) >= 2)
        eventually(lambda: r.exists(Streams.ASSIGNMENT_CHANGED) and r.xlen(Streams.ASSIGNMENT_CHANGED) >= 1)
        metrics = httpx.get(service.url + "/metrics", timeout=5).text
        assert 'mlp_emails_sent_total{kind="initial"} 3.0' in metrics
        assert 'mlp_inbound_messages_total{outcome="accepted"} 1.0' in metrics
        assert 'mlp_assignments{status="answered"} 1.0' in metrics

        # 3. a second request to six people; SIGKILL while the sender pauses between two sends
        before = len(sink.messages)
        assert before == 5
        copies = [RoutedRecipient(assignment_id=uuid.uuid4(), rbe_email=f"rbe{i}@ac-lyon.fr", role="copy",
                                  uais=[f"069000{i}X"], lycees=[f"Lycée n°{i}"]) for i in range(4)]
        lead = RoutedRecipient(assignment_id=uuid.uuid4(), rbe_email=LEAD, role="lead", uais=["0690001A"],
                               lycees=["Lycée François Rabelais"])
        _publish(redis_url, routed_event(recipients=[lead, *copies]))
        eventually(lambda: len(sink.messages) >= before + 2 and _sent_rows(tmp_path) == len(sink.messages))
        service.kill()
        assert before + 2 <= len(sink.messages) < before + 6
        service.start()
        sink.wait_for(before + 6)
        time.sleep(0.5)  # would a duplicate still arrive?
    finally:
        service.stop()
        sink.stop()
    second = sink.messages[before:]
    assert Counter(m.to for m in second) == Counter([LEAD, COMPANY, *[f"rbe{i}@ac-lyon.fr" for i in range(4)]])
    assert len({str(m.msg["Message-ID"]) for m in sink.messages}) == len(sink.messages) == before + 6


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _sent_rows(tmp_path) -> int:
    engine = create_engine(f"sqlite:///{tmp_path}/notifier.db")
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM notifier_outbound WHERE status = 'sent'")).scalar_one()
    finally:
        engine.dispose()


