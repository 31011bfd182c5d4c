"""GapRecovery's decisions: when to seek, where to, and when a gap is closed, with a fake
clock, fake offsets and a recorded seek (the real consumer is tested in tests/integration)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from pads_stream.candles.batch import Message, Outcome
from pads_stream.engine.gaps import RESEEK_AFTER_S, STALL_AFTER_S, GapRecovery


class Offsets:
    def __init__(self, start: dict[int, int] | None = None, end: dict[int, int] | None = None) -> None:
        self.start, self.end_ = start or {}, end or {}

    async def beginning(self, partitions: list[int]) -> dict[int, int]:
        return {p: self.start.get(p, 0) for p in partitions}

    async def end(self, partitions: list[int]) -> dict[int, int]:
        return {p: self.end_.get(p, 0) for p in partitions}


class Rig:
    def __init__(self, assigned: set[int] | None = None, start: dict[int, int] | None = None,
                 end: dict[int, int] | None = None, applied: dict[int, int] | None = None) -> None:
        self.now = 100.0
        self.seeks: list[tuple[int, int]] = []
        self.assigned_ = assigned or set()
        self.applied_ = applied or {}

        async def seek(p: int, offset: int) -> None:
            self.seeks.append((p, offset))

        self.gaps = GapRecovery(seek, Offsets(start, end), lambda: self.assigned_,
                                lambda p: self.applied_.get(p, -1), lambda: self.now)

    def batch(self, offsets: list[int], next_offset: int, held: list[int] | None = None,
              gaps: dict[int, tuple[int, int]] | None = None, partition: int = 0) -> None:
        msgs = [Message(partition, o, b"k", b"v") for o in offsets]
        out = Outcome(held=held or [], gaps=gaps or {})
        asyncio.run(self.gaps.after_batch(msgs, {partition: {"next": next_offset}}, out))

    def tick(self) -> None:
        asyncio.run(self.gaps.tick())


def test_a_gap_seeks_back_to_the_tables_next_offset_and_stays_open_until_passed() -> None:
    rig = Rig(assigned={0})
    rig.batch([10, 11], next_offset=5, held=[0, 1], gaps={0: (5, 10)})
    assert rig.seeks == [(0, 5)] and rig.gaps.open_gaps == {0: 12}
    rig.batch([5, 6, 7], next_offset=8)
    assert rig.gaps.open_gaps == {0: 12}  # records 10 and 11 were released: not applied yet
    rig.batch([8, 9, 10, 11], next_offset=12)
    assert rig.gaps.open_gaps == {}


def test_the_same_seek_is_not_repeated_within_a_second() -> None:
    rig = Rig(assigned={0})
    rig.batch([10], next_offset=5, held=[0], gaps={0: (5, 10)})
    rig.now += RESEEK_AFTER_S / 2
    rig.batch([11], next_offset=5, held=[0], gaps={0: (5, 11)})
    assert rig.seeks == [(0, 5)]
    rig.now += RESEEK_AFTER_S
    rig.batch([12], next_offset=5, held=[0], gaps={0: (5, 12)})
    assert rig.seeks == [(0, 5), (0, 5)]


def test_retention_deleted_records_continue_from_the_log_start(caplog: pytest.LogCaptureFixture) -> None:
    rig = Rig(assigned={0}, start={0: 7})
    with caplog.at_level(logging.ERROR):
        rig.batch([10], next_offset=5, held=[0], gaps={0: (5, 10)})
    assert rig.seeks == [(0, 7)]
    assert "offsets 5..6 were deleted by Kafka's retention" in caplog.text


def test_the_timer_seeks_an_open_gap_again_and_drops_unassigned_ones() -> None:
    rig = Rig(assigned={0, 1})
    rig.batch([10], next_offset=5, held=[0], gaps={0: (5, 10)})
    rig.batch([20], next_offset=15, held=[0], gaps={1: (15, 20)}, partition=1)
    rig.tick()
    assert rig.seeks == [(0, 5), (1, 15)]  # too soon for another seek
    rig.now += RESEEK_AFTER_S
    rig.assigned_ = {0}
    rig.tick()
    assert rig.seeks[2:] == [(0, 5)] and 1 not in rig.gaps.open_gaps


def test_a_quiet_partition_with_logs_left_is_sought_to_its_position() -> None:
    rig = Rig(assigned={0, 1, 2}, end={0: 50, 1: 30, 2: 9}, applied={2: 9})
    rig.batch([29], next_offset=30, partition=1)  # at its end
    rig.batch([39], next_offset=40, partition=0)  # 10 logs left
    rig.tick()
    assert rig.seeks == []  # not quiet yet
    rig.now += STALL_AFTER_S
    rig.tick()
    # 0 has logs left; 1 is at its end; 2 never had a message: the table says it is at its end.
    assert rig.seeks == [(0, 40)]
    rig.now += 1
    rig.tick()
    assert rig.seeks == [(0, 40)]  # not again before another STALL_AFTER_S


def test_revoked_partitions_are_forgotten() -> None:
    rig = Rig(assigned={0})
    rig.batch([10], next_offset=5, held=[0], gaps={0: (5, 10)})
    rig.gaps.on_revoked({0})
    status: dict[str, Any] = rig.gaps.status()
    assert status["open_gaps"] == {} and status["next_offset"] == {} and status["idle_s"] == {}
    assert status["since_seek_s"] == {0: (5, 0.0)}
