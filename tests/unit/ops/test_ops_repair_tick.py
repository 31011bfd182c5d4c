"""The Redis mirror's self-repair tick, with fakes for Redis: a rebuild that cannot read the
raw-log topic (Kafka away), and what /ready is told between a wipe and its rebuild. Both were
found by tests/integration/test_service_faults.py."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from pads_stream.ops.repair import MirrorRepair
from pads_stream.settings import WorkerSettings
from stack.process import free_port


class FakeRedis:
    def __init__(self) -> None:
        self.hash: dict[str, str] = {}

    async def hset(self, key: str, mapping: dict[str, str]) -> None:
        self.hash.update(mapping)

    async def hkeys(self, key: str) -> list[bytes]:
        return [k.encode() for k in self.hash]

    async def hdel(self, key: str, field: str) -> None:
        self.hash.pop(field, None)


class FakeMirror:
    def __init__(self) -> None:
        self.redis = FakeRedis()
        self.created_epoch = False
        self.epoch = "e1"
        self.tracking: Any = None

    async def check_epoch(self) -> bool:
        return False  # no wipe since the last write


def test_a_rebuild_that_cannot_reach_kafka_waits_for_the_next_tick(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """It used to raise out of the worker's timer and stop the worker (a broker stopped while the
    rebuild of a fresh namespace was pending). The partitions stay marked for a later tick."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    nobody = f"127.0.0.1:{free_port()}"  # nothing listens there
    s = WorkerSettings(**{"KAFKA_BOOTSTRAP_SERVERS": nobody, "TOPIC_PARTITIONS": 2})  # type: ignore[arg-type]
    mirror = FakeMirror()
    repair = MirrorRepair(s, mirror, lambda: {0, 1}, lambda p: 5, lambda: True)  # type: ignore[arg-type]
    repair.on_wiped()
    with caplog.at_level(logging.ERROR, "pads_stream"):
        asyncio.run(repair.tick())  # raised KafkaConnectionError
    assert "redis mirror repair: Kafka unreachable, trying again in 3 s" in caplog.text
    assert set(mirror.redis.hash) == {"0", "1"} and repair.pending == {0, 1} and repair.repaired == 0
    assert repair.problems() == ["redis mirror: rebuilding after a wipe, raw-log partitions [0, 1] to go"]
    assert not repair.running  # the next tick tries again


def test_ready_says_rebuilding_from_the_moment_a_wipe_is_noticed(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    """The marks are written by the next tick, up to 3 s after the write that noticed the wipe;
    /ready answered 200 in between (found by tests/integration/test_service_faults.py)."""
    monkeypatch.chdir(tmp_path)
    s = WorkerSettings(**{"TOPIC_PARTITIONS": 2})  # type: ignore[arg-type]
    mirror = FakeMirror()
    repair = MirrorRepair(s, mirror, lambda: set(), lambda p: 5, lambda: True)  # type: ignore[arg-type]
    assert repair.problems() == []
    repair.on_wiped()
    assert repair.problems() == ["redis mirror: rebuilding after a wipe, raw-log partitions [0, 1] to go"]
    asyncio.run(repair.tick())  # marks them; this worker owns none of them
    assert repair.problems() == ["redis mirror: rebuilding after a wipe, raw-log partitions [0, 1] to go"]
    mirror.redis.hash.clear()  # their owner rebuilt them
    asyncio.run(repair.tick())
    assert repair.problems() == []
    mirror.created_epoch = True  # a start that found no epoch key: the same until the first tick
    assert repair.problems() != []
