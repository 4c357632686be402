"""shared.platform.heap: a served process's start-up heap leaves the collector's full collections."""

from __future__ import annotations

import gc

from shared.platform import heap


def test_freeze_moves_the_live_objects_to_the_permanent_generation():
    kept = [{"n": i} for i in range(1000)]
    try:
        frozen = heap.freeze_startup_heap()
        assert frozen == gc.get_freeze_count() >= len(kept)
        assert not any(o is kept for o in gc.get_objects())  # no generation holds it any more
    finally:
        gc.unfreeze()  # this test process builds and drops many apps: never leave it frozen


def test_only_a_served_process_freezes():
    assert heap.FREEZE_AFTER_START is False  # set by `monlyceepro serve` only, never by building an app
