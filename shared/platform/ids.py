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
