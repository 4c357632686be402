"""Ids: random ones (uuid4) and time-ordered ones (uuid7) for rows written at a high rate."""

from __future__ import annotations

import time
import uuid
from collections import Counter

from shared.platform.ids import fast_uuid4, time_ordered_uuid


def test_time_ordered_ids_are_version_7_uuids_that_sort_by_their_millisecond():
    first = time_ordered_uuid()
    time.sleep(0.002)
    later = [time_ordered_uuid() for _ in range(1000)]
    assert {u.version for u in [first, *later]} == {7}
    assert {u.variant for u in [first, *later]} == {uuid.RFC_4122}
    assert all(str(first) < str(u) for u in later)  # as text too: the form the tables store
    assert len({*later}) == 1000
    now_ms = time.time_ns() // 1_000_000
    assert now_ms - 1000 <= later[-1].int >> 80 <= now_ms
    assert uuid.UUID(str(later[0])) == later[0]


def test_time_ordered_ids_keep_74_random_bits():
    made = [time_ordered_uuid() for _ in range(2000)]
    tails = {u.int & ((1 << 62) - 1) for u in made}  # the 62 random bits after the variant
    assert len(tails) == 2000  # fresh randomness per id, even within one millisecond


def test_random_ids_are_version_4():
    assert {fast_uuid4().version for _ in range(100)} == {4}


def test_names_built_from_notifier_ids_differ_for_rows_made_in_one_millisecond():
    # Message-IDs (unique per outbound row) and erased addresses are built from a piece of a row id.
    # The head of a time-ordered id is its millisecond, shared by the rows a transaction makes.
    from services.notifier.models import id_tail, new_id

    ids = [new_id() for _ in range(2000)]
    assert max(Counter(i[:12] for i in ids).values()) > 1  # the head alone would collide
    assert len({id_tail(i) for i in ids}) == len(ids)
