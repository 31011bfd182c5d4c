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


@pytest.mark.parametrize(
    ("configs", "expected"),
    [
        ({"retention.ms": "-1", "retention.bytes": "-1"}, []),
        ({}, []),  # a broker that does not say: nothing to report
        ({"retention.ms": "604800000", "retention.bytes": "-1"},
         ["topic logs deletes logs after 7 days (retention.ms=604800000)"]),
        ({"retention.ms": "-1", "retention.bytes": "1073741824"},
         ["topic logs deletes logs past 1073741824 bytes per partition"]),
        ({"retention.ms": "3600000", "retention.bytes": "10"}, ["after 0.0416667 days", "past 10 bytes"]),
    ],
)
def test_retention_problems_name_what_deletes_logs(configs: dict[str, str], expected: list[str]) -> None:
    from pads_stream.topics import retention_problems

    got = retention_problems("logs", configs)
    assert len(got) == len(expected)
    for line, want in zip(got, expected, strict=True):
        assert want in line
