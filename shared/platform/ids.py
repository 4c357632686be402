"""Random ids (uuid4) without a system call per id.

``uuid.uuid4()`` reads 16 bytes with ``os.urandom``: a getrandom() call that also releases and
retakes the GIL, which under load costs a thread switch, and three of them per accepted request
showed up in intake's profiles. These ids read the same kernel randomness, 4 KiB at a time.
They are identifiers, not secrets (tokens come from ``secrets``). A forked child starts with an
empty buffer, so parent and child never hand out the same bytes.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_CHUNK = 4096
_lock = threading.Lock()
_buffer = b""
_position = 0


def _random16() -> bytes:
    global _buffer, _position
    with _lock:
        if _position >= len(_buffer):
            _buffer, _position = os.urandom(_CHUNK), 0
        chunk = _buffer[_position:_position + 16]
        _position += 16
    return chunk


def _forget() -> None:
    global _buffer, _position
    _buffer, _position = b"", 0


os.register_at_fork(after_in_child=_forget)


def fast_uuid4() -> uuid.UUID:
    """A version-4 UUID, like ``uuid.uuid4()``."""
    return uuid.UUID(bytes=_random16(), version=4)


def uuid4_hex() -> str:
    """``uuid.uuid4().hex``."""
    return fast_uuid4().hex


def time_ordered_uuid() -> uuid.UUID:
    """A version-7 UUID (RFC 9562): the Unix time in milliseconds, then 74 random bits.

    For the ids of rows written at a high rate (requests, events): consecutive ids sort next to
    each other, so their index entries land on the same last page of the B-tree instead of a random
    page each, and a transaction dirties (and writes to the WAL) a few pages, not one per row. The
    creation time the id shows is stored beside it anyway; tokens, which must not be guessable,
    stay fully random (``secrets``)."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(_random16()[:10], "big")
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # RFC 4122 variant
    return uuid.UUID(int=value)
