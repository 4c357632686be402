"""Word-prefix text index used by the catalog search (accent/case-insensitive through ``shared.reference.geo.fold``)."""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from functools import lru_cache

from shared.reference.geo import fold

STOP_WORDS = {"de", "du", "des", "la", "le", "les", "l", "d", "et", "en", "a", "au", "aux", "ou", "un", "une", "/"}


@lru_cache(maxsize=100_000)
def _folded_word(word: str) -> tuple[str, ...]:
    return tuple(t for t in re.split(r"[^a-z0-9]+", fold(word)) if t and t not in STOP_WORDS)


def tokens(text: str) -> list[str]:
    """Accent/case-insensitive words (``shared.reference.geo.fold``), stop words dropped; cached per word."""
    return [t for word in text.split() for t in _folded_word(word)]


class PrefixIndex:
    """Word-prefix index: every query token must be a prefix of a word of the document."""

    def __init__(self, documents: list[str]) -> None:
        postings: dict[str, set[int]] = defaultdict(set)
        for doc_id, text in enumerate(documents):
            for word in tokens(text):
                postings[word].add(doc_id)
        self.words = sorted(postings)
        self.postings = postings

    def _matching(self, token: str) -> tuple[set[int], set[int]]:
        exact = set(self.postings.get(token, ()))
        prefix: set[int] = set()
        start = bisect.bisect_left(self.words, token)
        for word in self.words[start:]:
            if not word.startswith(token):
                break
            prefix |= self.postings[word]
        return exact, prefix

    def search(self, query_tokens: list[str]) -> dict[int, int]:
        """doc id -> 2 when every token is a whole word of the document, 1 when only prefixes."""
        result: dict[int, int] | None = None
        for token in query_tokens:
            exact, prefix = self._matching(token)
            current = {d: (2 if d in exact else 1) for d in prefix}
            result = current if result is None else {d: min(s, current[d]) for d, s in result.items() if d in current}
            if not result:
                return {}
        return result or {}
