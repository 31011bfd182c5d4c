"""replay refuses a raw-log topic whose first logs retention deleted (a partial rebuild)."""

from __future__ import annotations

from aiokafka import TopicPartition

from pads_stream.ops.replay import Plan, lost_history
from pads_stream.settings import WorkerSettings


def plan(begin: list[int]) -> Plan:
    tps = [TopicPartition("pads.chain-logs", i) for i in range(len(begin))]
    return Plan(WorkerSettings(), "g", "g-token-state-changelog", tps, dict(zip(tps, begin, strict=True)),
                {tp: 100 for tp in tps})


def test_a_topic_that_starts_at_its_first_logs_lost_nothing() -> None:
    assert lost_history(plan([0, 0, 0])) == []


def test_each_partition_that_lost_logs_is_named() -> None:
    assert lost_history(plan([0, 12, 0, 7])) == ["pads.chain-logs[1] starts at offset 12",
                                                 "pads.chain-logs[3] starts at offset 7"]
