"""Table writes of several batches, kept and then made together (pure).

Redis gets every batch at once; the table and its changelog need only the last value of each
key when the logs that changed it are acked. A hot token is then written once per flush, not
once per batch: its value holds its non-final trades, and a few such values per batch cost
more (encoding aside: the RocksDB put, the changelog record, the broker's share of the CPU)
than folding the batch did.

The logs of the batches in the buffer are acked only after the flush, so a crash loses
nothing: they are delivered again and folded again from the table, and Redis, written with
full candles, ends the same. A flush keeps the order one batch's writes have: token states,
then window indexes, then partition positions, then pending sets (see `candles.batch`), so what survives an
interruption is what survives one of a big batch.

Values are encoded at the flush (`codec.Deferred`), so a state changed by ten batches between
flushes is encoded once. A batch that fails must therefore clear the buffer: its states were
changed in place.
"""

from __future__ import annotations

from .batch import pending_key, position_key, windows_key
from .codec import TableValue, resolve

_POSITION = position_key(0).split(b":")[0]
_PENDING = pending_key(0).split(b":")[0]
_WINDOWS = windows_key(0).split(b":")[0]


def _rank(key: bytes) -> int:
    if key[:1] != b"\x00":
        return 0
    if key.startswith(_WINDOWS):
        return 1
    return 2 if key.startswith(_POSITION) else 3 if key.startswith(_PENDING) else 4


class WriteBehind:
    def __init__(self) -> None:
        self.values: dict[bytes, tuple[int, TableValue]] = {}

    def __len__(self) -> int:
        return len(self.values)

    def add(self, writes: list[tuple[int, bytes, TableValue]]) -> None:
        for partition, key, value in writes:
            self.values[key] = (partition, value)

    def read(self, key: bytes) -> tuple[bool, bytes | None]:
        """(True, value) when the buffer has the key's latest value (None: deleted)."""
        held = self.values.get(key)
        return (False, None) if held is None else (True, resolve(held[1]))

    def drain(self) -> list[tuple[int, bytes, bytes | None]]:
        """Every write, in flush order and encoded, and an empty buffer."""
        out = [(p, key, resolve(value))
               for key, (p, value) in sorted(self.values.items(), key=lambda kv: (_rank(kv[0]), kv[0]))]
        self.values.clear()
        return out

    def clear(self) -> None:
        self.values.clear()
