"""Give freed heap memory back to the operating system after a large one-off build.

A service that parses a big document (the catalog snapshot: 12 MB of JSON, ~110 MB of Python objects
while it is parsed) keeps the peak in its resident memory although the parsed objects are gone:
glibc's malloc keeps freed pages for later. ``malloc_trim(0)`` returns every free page it can
(top of the heap and whole free pages inside it). Measured on the matcher: 243 → 195 MiB after a
snapshot install. Elsewhere (musl, macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import io
import os
import pickle
from collections.abc import Callable
from functools import cache, lru_cache
from typing import Any, TypeVar


@cache
def _malloc_trim():
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


def release_free_memory() -> bool:
    """Collect, then hand free heap pages back to the OS. True when the allocator could be asked."""
    gc.collect()
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)
SERVICE_ARENAS = 2


def limit_malloc_arenas(arenas: int = SERVICE_ARENAS) -> bool:
    """Cap glibc's malloc arenas (``MALLOC_ARENA_MAX``) unless the environment sets it. Call before threads start.

    glibc gives each thread that allocates while another holds the main arena a new arena (up to 8 per
    core), and memory freed in one arena is never reused by another. A service builds its in-memory
    indexes in a worker thread (asyncio.to_thread, the database threads) and serves from others: each
    arena keeps its own share of free pages. Most allocations are made under the GIL anyway, so more
    arenas buy little concurrency. Measured with bench.memory: see docs/benchmarks-changelog.md (B42-mem)."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    return bool(mallopt(M_ARENA_MAX, arenas))


T = TypeVar("T")
_LRU_WRAPPER = type(lru_cache(maxsize=None)(lambda: None))


def _rebuilt_cache(function: Callable, maxsize: int | None) -> Callable:
    return lru_cache(maxsize=maxsize)(function)


class _Pickler(pickle.Pickler):
    """Pickles ``lru_cache(...)(self.method)`` attributes as a new, empty cache of the same method."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, _LRU_WRAPPER) and hasattr(obj.__wrapped__, "__self__"):
            return _rebuilt_cache, (obj.__wrapped__, obj.cache_parameters()["maxsize"])
        return NotImplemented


def rebuilt_compact(build: Callable[[], T]) -> T:
    """``build()``'s result, re-made from a pickle of it once everything the build allocated is freed.

    CPython's allocator gets small objects from 1 MiB arenas and gives an arena back only when nothing
    in it is alive. A long-lived structure built while a large temporary one is alive (a read model
    built from a parsed snapshot) ends up with a few objects in each of the temporary's arenas: they all
    stay resident once the temporary is gone (measured on the matcher: 131 arenas for 81 MiB of live
    objects). Pickled, dropped, freed, then unpickled, the structure fills fresh arenas. Its method
    caches (``lru_cache`` of a bound method) come back empty. The result is an equal copy, never the
    object ``build`` returned; when it cannot be pickled, that object is returned as is."""
    obj = build()
    buffer = io.BytesIO()
    try:
        _Pickler(buffer, pickle.HIGHEST_PROTOCOL).dump(obj)
    except (pickle.PicklingError, TypeError, AttributeError):
        return obj
    del obj
    release_free_memory()
    rebuilt = pickle.loads(buffer.getbuffer())
    del buffer
    release_free_memory()
    return rebuilt
