"""faststream's Redis stream message, written and read directly: the relay's and the consumers' hot paths.

An outbox row already holds its event as JSON. ``broker.publish`` would decode it, wrap it in a
publish command, run it through the middlewares (the Prometheus one included), encode it to JSON
again and frame it; per message that cost more than the relay's whole transaction. Here the stored
JSON is framed as faststream frames it (``BinaryMessageFormatV1``, the broker's default), with
the headers ``broker.publish`` sets for a dict (``correlation_id``, ``content-type``), so every
consumer (faststream's subscribers, ``shared.platform.replay``) reads it exactly as before;
tests/unit/shared/test_faststream_wire.py checks it against faststream's own encoder; the backbone tests, with
real subscribers.

The consumers' main subscribers read the other way round: the batch as XREADGROUP answered it, each
entry opened here once (``unparsed_batch``, ``undecoded``, ``entry_body``).
"""

from __future__ import annotations

import json
from struct import pack
from typing import Any

from faststream.redis import StreamSub
from faststream.redis.message import DATA_KEY, FAKE_CONSUMER
from faststream.redis.message import RedisBatchStreamMessage as BatchMessage
from faststream.redis.parser.binary import BinaryMessageFormatV1, FastStreamMessageVersion

__all__ = ["DATA_FIELD", "DATA_KEY", "StreamSubscription", "entry_body", "stream_message", "undecoded", "unparsed_batch"]

_PREFIX = BinaryMessageFormatV1.IDENTITY_HEADER + pack(">H", FastStreamMessageVersion.v1.value)
_HEADERS_START = len(_PREFIX) + 8  # after the two offsets
_CONTENT_TYPE = b"content-type"
_JSON = b"application/json"
_CORRELATION_ID = b"correlation_id"


def _string(value: bytes) -> bytes:
    return pack(">H", len(value)) + value


def stream_message(payload_json: str, correlation_id: str) -> bytes:
    """The stream entry's ``__data__`` field for a JSON payload, as ``broker.publish(json.loads(payload),
    correlation_id=...)`` would write it."""
    headers = _string(_CORRELATION_ID) + _string(correlation_id.encode()) + _string(_CONTENT_TYPE) + _string(_JSON)
    data_start = _HEADERS_START + 2 + len(headers)
    return b"".join((_PREFIX, pack(">IIH", _HEADERS_START, data_start, 2), headers, payload_json.encode()))


# -- reading: the consumers' side (shared.platform.consumer) --------------------------------------

class StreamSubscription(StreamSub):
    """faststream's stream subscription, not copied when there is no prefix to add. faststream reads it
    through ``add_prefix`` on every XREADGROUP and every message (a ``deepcopy`` each time: 3 % of a
    consumer's CPU); the services' brokers have no prefix, and faststream only reads the result."""

    def add_prefix(self, prefix: str) -> StreamSubscription:
        return self if not prefix else super().add_prefix(prefix)


# The main subscriber's parser and decoder: the batch as read, each entry decoded once by entry_body.
# faststream's batch parser decodes every entry's JSON, dumps the list to JSON again, and its decoder
# loads that back: three passes over each event where one does, and a quarter of what faststream spent
# per delivery. The message keeps the raw XREADGROUP answer, which is all the consumer reads.
DATA_FIELD = b"__data__"
_NO_ID = "-"  # correlation ids travel in each event; faststream would draw a uuid4 for the batch


async def unparsed_batch(message: Any) -> BatchMessage:
    return BatchMessage(message, b"", consumer=FAKE_CONSUMER, group=None, correlation_id=_NO_ID, message_id=_NO_ID)


async def undecoded(_: Any) -> None:
    return None


def entry_body(fields: Any) -> Any:
    """An entry's body as faststream's batch parser decodes it: its binary frame (or JSON envelope) opened,
    then JSON when it is JSON, else the bytes (which the consumer refuses as poison)."""
    data, _ = BinaryMessageFormatV1.parse(fields.get(DATA_FIELD, fields) if isinstance(fields, dict) else fields)
    try:
        return json.loads(data)
    except (ValueError, TypeError):  # not JSON; or fields without a frame, which stay a dict
        return data
