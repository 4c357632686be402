"""The relay frames stored JSON itself (shared/platform/faststream_wire.py): the entry must be what
``broker.publish`` writes for the decoded payload, so every consumer reads it as before."""

from __future__ import annotations

import asyncio
import json

from faststream._internal.parser import DefaultCodec
from faststream.redis.parser.binary import BinaryMessageFormatV1

from shared.platform.faststream_wire import stream_message

PAYLOAD = '{"event_type":"request.submitted","data":{"company_name":"Boulangerie « Dupont »","needs":["pfmp"]}}'


def faststream_encoded(payload: str, correlation_id: str) -> bytes:
    return asyncio.run(BinaryMessageFormatV1.encode(message=json.loads(payload), reply_to="", headers=None,
                                                    correlation_id=correlation_id, codec=DefaultCodec()))


def test_the_frame_is_faststreams_own_with_the_stored_json_as_body():
    mine, theirs = stream_message(PAYLOAD, "c0ffee-42"), faststream_encoded(PAYLOAD, "c0ffee-42")
    my_body, my_headers = BinaryMessageFormatV1.parse(mine)
    their_body, their_headers = BinaryMessageFormatV1.parse(theirs)
    assert my_headers == their_headers == {"correlation_id": "c0ffee-42", "content-type": "application/json"}
    assert json.loads(my_body) == json.loads(their_body)  # the same JSON, spelt compactly
    assert my_body == PAYLOAD.encode()  # stored bytes as they are, not decoded and dumped again
    # Everything before the body is byte for byte what faststream writes.
    assert mine[: -len(my_body)] == theirs[: -len(their_body)]
