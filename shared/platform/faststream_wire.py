"""faststream's Redis stream message, written directly: the outbox relay's hot path.

An outbox row already holds its event as JSON. ``broker.publish`` would decode it, wrap it in a
publish command, run it through the middlewares (the Prometheus one included), encode it to JSON
again and frame it; per message that cost more than the relay's whole transaction. Here the stored
JSON is framed as faststream frames it (``BinaryMessageFormatV1``, the broker's default), with
the headers ``broker.publish`` sets for a dict (``correlation_id``, ``content-type``), so every
consumer (faststream's subscribers, ``shared.platform.replay``) reads it exactly as before;
tests/unit/shared/test_faststream_wire.py checks it against faststream's own encoder; the backbone tests, with
real subscribers.
"""

from __future__ import annotations

from struct import pack

from faststream.redis.message import DATA_KEY
from faststream.redis.parser.binary import BinaryMessageFormatV1, FastStreamMessageVersion

__all__ = ["DATA_KEY", "stream_message"]

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
