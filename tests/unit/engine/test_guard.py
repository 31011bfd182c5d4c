"""The commit offset Faust computes from acked offsets, with the duplicates its gap merging
and re-read records leave (pads_stream.faust_guard._new_offset)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
from intervaltree import IntervalTree

from pads_stream.engine.guard import _new_offset

TP = ("raw", 0)


class Offsets:
    """The consumer state `_new_offset` reads and trims."""

    def __init__(self, acked: list[int], committed: int | None, gaps: list[tuple[int, int]] = ()) -> None:
        self._acked: dict[Any, list[int]] = defaultdict(list, {TP: list(acked)})
        self._acked_index: dict[Any, set[int]] = defaultdict(set, {TP: set(acked)})
        self._committed_offset: dict[Any, int | None] = defaultdict(lambda: None, {TP: committed})
        self._gap: dict[Any, IntervalTree] = defaultdict(IntervalTree)
        for begin, end in gaps:
            self._gap[TP].addi(begin, end)


@pytest.mark.parametrize(("acked", "committed", "gaps", "expected", "left"), [
    ([], 10, [], None, []),
    ([10, 11, 12], 10, [], 13, []),
    ([11, 12], 10, [], 13, []),  # Faust tolerates one missing offset at the head
    ([12, 13], 10, [], None, [12, 13]),  # two missing: wait for them
    ([10, 11, 11, 12], 10, [], 13, []),  # a duplicate no longer splits the run
    ([8, 9, 10, 11], 10, [], 12, []),  # acks below the committed offset (records read again) are dropped
    ([10, 11, 15, 16], 10, [], 12, [15, 16]),
    ([10, 11, 16], 10, [(11, 16)], 17, []),  # gap ranges count as acked, overlaps included
    ([10, 20], 10, [(11, 15)], 15, [20]),
    ([5, 6], None, [], 7, []),
])
def test_commit_offset(acked: list[int], committed: int | None, gaps: list[tuple[int, int]],
                       expected: int | None, left: list[int]) -> None:
    c = Offsets(acked, committed, gaps)
    assert _new_offset(c, TP) == expected
    assert c._acked[TP] == left
