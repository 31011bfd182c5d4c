"""Partition-count checks shared by the bridge and the worker (pure part of pads_stream.topics)."""

from __future__ import annotations

import pytest

from pads_stream.topics import partition_problems


@pytest.mark.parametrize(
    ("existing", "wanted", "expected"),
    [
        ({}, 8, []),
        ({"pads.trades": 8, "pads.chain-logs": 8}, 8, []),
        ({"pads.trades": 4}, 8, ["topic pads.trades has 4 partitions, TOPIC_PARTITIONS is 8"]),
        ({"z": 1, "a": 2, "m": 3}, 3, ["topic a has 2 partitions, TOPIC_PARTITIONS is 3",
                                       "topic z has 1 partitions, TOPIC_PARTITIONS is 3"]),
        ({"x": 16}, 8, ["topic x has 16 partitions, TOPIC_PARTITIONS is 8"]),
    ],
)
def test_partition_problems(existing: dict[str, int], wanted: int, expected: list[str]) -> None:
    assert partition_problems(existing, wanted) == expected
