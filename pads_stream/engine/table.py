"""Partition-aware access to a Faust table (the `Table` seam of `agents.candles`).

Faust's RocksDB store keeps one database per partition, and both it and the changelog pick
the partition from the current event (`faust.streams._current_event`), which is unset
outside Faust's own stream iterator: point it at an event of the key's partition first.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

from faust.streams import _current_event
from faust.types import EventT


class PartitionTable:
    def __init__(self, table: Any) -> None:
        self.table = table
        self._events: dict[int, EventT] = {}  # an event of each partition seen since it was assigned

    def saw(self, events: Iterable[EventT]) -> None:
        for e in events:
            self._events[e.message.partition] = e

    def forget(self, partitions: Iterable[int]) -> None:
        for p in partitions:
            self._events.pop(p, None)

    def _point_at(self, partition: int) -> None:
        event = self._events.get(partition)
        _current_event.set(weakref.ref(event) if event is not None else None)

    def get(self, partition: int, key: bytes) -> bytes | None:
        self._point_at(partition)  # with no event of it, the store searches every partition
        return self.table.get(key)  # type: ignore[no-any-return]

    def put(self, partition: int, key: bytes, value: bytes | None) -> None:
        self._point_at(partition)
        if value is None:
            self.table.pop(key, None)
        else:
            self.table[key] = value
