"""The bare roles of ``bench.floor``: the request's path on the same frameworks, with no work.

A uvicorn + FastAPI endpoint validates the real request schema and publishes (no database, no
outbox); a "matcher" reads its stream in batches and publishes one event per request; a
"notifier" reads those, sends four emails per request over one pipelined connection with the
project's own SMTP client, and publishes one timeline event; the web process consumes the two
streams the real intake consumes. No logging, no metrics, no database.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from email.header import Header

from shared.contracts.request_schema import (
    CompanyRequestIn,  # module level: FastAPI resolves the annotation here
)

SUBMITTED, ROUTED, MESSAGE = "floor.submitted", "floor.routed", "floor.message"
MAXLEN = 100_000
# About the size of the real notifier's messages (5.5 kB on average, quoted-printable text and HTML).
BODY = ("Bonjour,\r\n\r\n" + "Une entreprise souhaite accueillir des =C3=A9l=C3=A8ves en PFMP.\r\n" * 80).encode()


def _subscriber(broker, stream: str, group: str):
    from faststream import AckPolicy
    from faststream.redis import StreamSub

    sub = StreamSub(stream, group=group, consumer=f"{group}-1", polling_interval=100, batch=True, max_records=64)
    return broker.subscriber(stream=sub, ack_policy=AckPolicy.MANUAL)


async def _ack(broker, redis, stream: str, group: str) -> None:
    msg = broker.context.get_local("message")
    await redis.xack(stream, group, *msg.raw_message["message_ids"])


async def _ensure_group(redis, stream: str, group: str) -> None:
    try:
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
    except Exception as exc:  # noqa: BLE001 - BUSYGROUP: already there
        if "BUSYGROUP" not in str(exc):
            raise


def web_app():
    """The intake's shape: validate, publish, answer 202; consume routed and timeline events."""
    from contextlib import asynccontextmanager

    from fastapi import FastAPI
    from faststream.redis import RedisBroker
    from redis.asyncio import Redis

    url = _env_redis()
    broker, redis = RedisBroker(url, logger=None), Redis.from_url(url)
    def consumer_of(stream: str):
        async def consume(bodies: list) -> None:
            await _ack(broker, redis, stream, "intake")
        return consume

    for stream in (ROUTED, MESSAGE):
        _subscriber(broker, stream, "intake")(consumer_of(stream))

    @asynccontextmanager
    async def lifespan(app):
        for stream in (ROUTED, MESSAGE):
            await _ensure_group(redis, stream, "intake")
        await broker.start()
        yield
        await broker.stop()

    app = FastAPI(lifespan=lifespan)

    @app.post("/api/v1/requests", status_code=202)
    async def submit(payload: CompanyRequestIn) -> dict:
        request_id = str(uuid.uuid4())
        await broker.publish({"request_id": request_id, **payload.model_dump(mode="json")}, stream=SUBMITTED,
                             maxlen=MAXLEN)
        return {"request_id": request_id}

    @app.get("/healthz")
    async def health() -> dict:
        return {"ok": True}

    return app


async def run_matcher() -> None:
    from faststream.redis import RedisBroker
    from redis.asyncio import Redis

    url = _env_redis()
    broker, redis = RedisBroker(url, logger=None), Redis.from_url(url)

    @_subscriber(broker, SUBMITTED, "matcher")
    async def route(bodies: list) -> None:
        for body in bodies:
            await broker.publish({"request_id": body["request_id"], "company": body["company_name"],
                                  "recipients": [f"rbe{i}@lycee.example" for i in range(3)]},
                                 stream=ROUTED, maxlen=MAXLEN)
        await _ack(broker, redis, SUBMITTED, "matcher")

    await _ensure_group(redis, SUBMITTED, "matcher")
    await _serve(broker)


class Mail:
    __slots__ = ("sender", "recipient", "raw")

    def __init__(self, recipient: str, company: str) -> None:
        self.sender, self.recipient = "bureau@monlyceepro.example", recipient
        self.raw = (f"From: MonLyceePro <bureau@monlyceepro.example>\r\nTo: {recipient}\r\n"
                    f"Subject: {Header(f'[MonLycéePro] {company} : Accueil d’élèves', 'utf-8').encode()}\r\n"
                    "Content-Type: text/plain; charset=utf-8\r\n"
                    "Content-Transfer-Encoding: quoted-printable\r\n\r\n").encode() + BODY


def _report(message: Mail, error: Exception | None) -> None:
    if error is not None:  # the floor must deliver what it claims to cost
        print(f"refused by the sink: {error}", file=sys.stderr, flush=True)


_connection = None


async def send_mails(port: int, mails: list[Mail]) -> None:
    """Send ``mails`` on one kept-open, pipelined connection (the project's own client)."""
    from shared.platform import smtp

    global _connection
    if not mails:
        return
    if _connection is None or not _connection.usable:
        _connection = await smtp.connect("127.0.0.1", port, timeout_s=10)
    pending = iter(mails[1:])
    await _connection.send_all(mails[0], lambda: next(pending, None), _report)


async def run_notifier(smtp_port: int) -> None:
    from faststream.redis import RedisBroker
    from redis.asyncio import Redis

    url = _env_redis()
    broker, redis = RedisBroker(url, logger=None), Redis.from_url(url)

    @_subscriber(broker, ROUTED, "notifier")
    async def notify(bodies: list) -> None:
        await send_mails(smtp_port, [Mail(r, body["company"]) for body in bodies
                                     for r in [*body["recipients"], "contact@entreprise.example"]])
        for body in bodies:
            await broker.publish({"request_id": body["request_id"], "kind": "sent"}, stream=MESSAGE, maxlen=MAXLEN)
        await _ack(broker, redis, ROUTED, "notifier")

    await _ensure_group(redis, ROUTED, "notifier")
    await _serve(broker)


async def _serve(broker) -> None:
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await broker.start()
    print("ready", flush=True)
    await stop.wait()
    await broker.stop()


def _env_redis() -> str:
    return os.environ["FLOOR_REDIS_URL"]
