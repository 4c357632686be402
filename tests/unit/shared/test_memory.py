"""shared.platform.memory: a structure re-made in fresh memory is an equal copy with empty method caches."""

from __future__ import annotations

import threading
from functools import lru_cache

from shared.platform.memory import rebuilt_compact


class Indexed:
    def __init__(self, words: list[str]) -> None:
        self.words = {w: i for i, w in enumerate(words)}
        self.calls = 0
        self.position = lru_cache(maxsize=16)(self._position)

    def _position(self, word: str) -> int:
        self.calls += 1
        return self.words[word]


def test_the_copy_is_equal_and_its_method_caches_start_empty():
    original = Indexed(["boulanger", "coiffeur"])
    assert original.position("coiffeur") == 1
    copy = rebuilt_compact(lambda: original)
    assert copy is not original and copy.words == original.words
    assert copy.position.cache_info().currsize == 0 and copy.position.cache_parameters()["maxsize"] == 16
    assert copy.position("coiffeur") == 1 and copy.position("coiffeur") == 1
    assert copy.calls == 2  # one call before the copy (copied), one since: the copy's cache is its own
    assert original.calls == 1


def test_what_cannot_be_pickled_is_returned_as_is():
    lock_holder = {"lock": threading.Lock()}
    assert rebuilt_compact(lambda: lock_holder) is lock_holder
