"""Records the candle agent must read again, and how it gets them: gap recovery as an object.

Faust skips records around a rebalance and can commit past them; the table knows each raw
partition's next offset to apply (`candles.batch`), so a batch that finds a gap releases the
records behind it and the recovery seeks back. Faust's fetcher can overwrite such a seek, or
drop the re-read records behind ones fetched before it, so a 1 s timer (`tick`) checks: a gap
stays open until the table's position passes every released record, and a partition that
has logs left but receives none for a while is sought to its position (at the end of a
backlog no later record would reveal the loss, and a replay would stop short).

The decisions are here; the I/O is given: `seek(partition, offset)`, an `Offsets` client
(log start and end offsets), the assigned partitions and the table's position.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from ..candles.batch import Message, Outcome

log = logging.getLogger(__name__)
RESEEK_AFTER_S = 1.0
STALL_AFTER_S = 5.0


class Offsets(Protocol):
    async def beginning(self, partitions: list[int]) -> dict[int, int]: ...

    async def end(self, partitions: list[int]) -> dict[int, int]: ...


class GapRecovery:
    def __init__(self, seek: Callable[[int, int], Awaitable[None]], offsets: Offsets,
                 assigned: Callable[[], set[int]], applied: Callable[[int], int],
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`applied(p)`: the next offset the table says partition p must apply (-1: none yet)."""
        self._seek_fn, self.offsets, self.assigned, self.applied, self.clock = seek, offsets, assigned, applied, clock
        self.earliest: dict[int, int] = {}  # log start offset per raw partition: where a fresh table begins
        # Raw partition -> the offset below which records were released behind a gap: the gap
        # stays open, and is sought again, until the partition's next offset reaches it.
        self.open_gaps: dict[int, int] = {}
        self.next_offset: dict[int, int] = {}  # next offset to apply, as the table says
        self.last_event: dict[int, float] = {}  # when a message of the partition last came
        self.last_seek: dict[int, tuple[int, float]] = {}

    async def learn_earliest(self, partitions: list[int]) -> None:
        if partitions:
            self.earliest.update(await self.offsets.beginning(partitions))

    async def after_batch(self, messages: Sequence[Message], positions: dict[int, dict[str, Any]],
                          out: Outcome) -> None:
        """Note where each partition stands after a batch; open, close and seek gaps."""
        now = self.clock()
        for partition, pos in positions.items():
            self.next_offset[partition] = pos["next"]
            self.last_event[partition] = now
        for i in out.held:
            m = messages[i]
            self.open_gaps[m.partition] = max(self.open_gaps.get(m.partition, 0), m.offset + 1)
        # Not closed by the first record after a seek: Faust can drop the re-read records
        # behind ones it fetched before the seek.
        for partition, until in list(self.open_gaps.items()):
            if self.next_offset.get(partition, -1) >= until:
                del self.open_gaps[partition]
        for partition, (expected, got) in out.gaps.items():
            await self._seek_back(partition, expected, got)

    async def _seek_back(self, partition: int, expected: int, got: int) -> None:
        await self.learn_earliest([partition])  # retention may have deleted what the table expects
        target = max(expected, self.earliest[partition])
        if target > expected:
            log.error("raw partition %d: offsets %d..%d were deleted by Kafka's retention before they were "
                      "applied; continuing from %d (run `python -m pads_stream check`)", partition, expected,
                      target - 1, target)
        last = self.last_seek.get(partition)
        if last is not None and last[0] == target and self.clock() - last[1] < RESEEK_AFTER_S:
            return  # the records fetched before that seek are still draining; the timer checks
        log.warning("raw partition %d: the consumer skipped offsets %d..%d; reading again from %d",
                    partition, expected, got - 1, target)
        await self._seek(partition, target)

    async def _seek(self, partition: int, offset: int) -> None:
        self.last_seek[partition] = (offset, self.clock())
        await self._seek_fn(partition, offset)

    def on_revoked(self, partitions: set[int]) -> None:
        # A partition may come back after another worker moved it on.
        for p in partitions:
            for known in (self.open_gaps, self.next_offset, self.last_event):
                known.pop(p, None)

    async def tick(self) -> None:
        """Seek again where released records have not been applied (Faust's fetcher can
        overwrite a seek with the read position of records it fetched just before it), and
        where logs remain but none has come for a while."""
        assigned = self.assigned()
        for partition, until in list(self.open_gaps.items()):
            if partition not in assigned:
                self.open_gaps.pop(partition, None)
            elif self.clock() - self.last_seek.get(partition, (0, 0.0))[1] >= RESEEK_AFTER_S:
                target = max(self.next_offset[partition], self.earliest.get(partition, 0))
                log.warning("raw partition %d: offsets %d..%d were released and not applied yet; seeking to %d "
                            "again", partition, target, until - 1, target)
                await self._seek(partition, target)
        await self._seek_stalled(assigned)

    async def _seek_stalled(self, assigned: set[int]) -> None:
        now = self.clock()
        for p in assigned:
            self.last_event.setdefault(p, now)  # a partition just assigned: its clock starts now
        quiet = sorted(p for p in assigned if p not in self.open_gaps and now - self.last_event[p] >= STALL_AFTER_S
                       and now - self.last_seek.get(p, (0, 0.0))[1] >= STALL_AFTER_S)
        if not quiet:
            return
        for p, end in sorted((await self.offsets.end(quiet)).items()):
            applied = self.next_offset.get(p)
            if applied is None:  # no message since it was assigned: the table says where it stands
                applied = self.applied(p)
            target = max(applied, self.earliest.get(p, 0))
            if target < end:
                log.warning("raw partition %d: offsets %d..%d remain but none has come for %.0f s; seeking to %d",
                            p, target, end - 1, now - self.last_event[p], target)
                await self._seek(p, target)

    def status(self) -> dict[str, Any]:
        now = self.clock()
        return {"open_gaps": dict(self.open_gaps), "next_offset": dict(self.next_offset),
                "idle_s": {p: round(now - t, 1) for p, t in self.last_event.items()},
                "since_seek_s": {p: (o, round(now - t, 1)) for p, (o, t) in self.last_seek.items()}}
