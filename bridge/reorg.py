"""The recent chain as the bridge published it (pure, no I/O).

For each retained block: its number, its hash and the logs published from it, so a reorg can
be undone exactly: find the common ancestor with the node's current chain, re-publish the
orphaned logs with removed=true, and resume after the ancestor. Blocks below the window are
final by the FINALITY_DEPTH assumption; a reorg reaching below it cannot be undone from here.
The retained blocks are always contiguous: a gap would hide orphaned logs from the walk back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from pads_stream.chain.rawlog import RawLog, parse_raw_log
from pads_stream.errors import DecodeError


@dataclass(frozen=True, slots=True)
class Header:
    """What the bridge reads of a block: enough to chain it to its parent."""

    number: int
    hash: str
    parent_hash: str


@dataclass(slots=True)
class Block:
    number: int
    hash: str
    logs: list[RawLog] = field(default_factory=list)


def hash_window(a: int, b: int, head: int, depth: int) -> range:
    """Blocks of range a..b whose hashes are fetched: those within `depth` of the head, and
    always b (its hash goes into the head marker and the next range's check)."""
    return range(max(a, min(b, head - depth)), b + 1)


def fetch_problem(headers: Sequence[Header], logs: Iterable[RawLog], prev_hash: str | None) -> str | None:
    """Why a fetched range is inconsistent (the chain moved while it was read), or None.

    `prev_hash` is the retained hash of the block just before the first header, if any."""
    if headers and prev_hash is not None and headers[0].parent_hash != prev_hash:
        return f"block {headers[0].number} no longer follows the published block {headers[0].number - 1}"
    for parent, child in zip(headers, headers[1:], strict=False):
        if child.number != parent.number + 1 or child.parent_hash != parent.hash:
            return f"block {child.number} does not follow block {parent.number}"
    hashes = {h.number: h.hash for h in headers}
    for lg in logs:
        expected = hashes.get(lg.block_number)
        if expected is not None and lg.block_hash != expected:
            return f"log {lg.block_number}/{lg.log_index} is from block {lg.block_hash}, not {expected}"
    return None


class RecentChain:
    """The last `depth + 1` published blocks (at least), oldest first."""

    def __init__(self, depth: int, blocks: Iterable[Block] = ()) -> None:
        if depth < 1:
            raise ValueError("depth must be >= 1")
        self.depth = depth
        self.blocks: list[Block] = sorted(blocks, key=lambda bl: bl.number)
        for prev, nxt in zip(self.blocks, self.blocks[1:], strict=False):
            if nxt.number != prev.number + 1:
                raise ValueError(f"retained blocks are not contiguous at {prev.number}..{nxt.number}")
        self.prune()

    @property
    def newest(self) -> Block | None:
        return self.blocks[-1] if self.blocks else None

    @property
    def oldest(self) -> Block | None:
        return self.blocks[0] if self.blocks else None

    def hash_of(self, number: int) -> str | None:
        if not self.blocks or not self.blocks[0].number <= number <= self.blocks[-1].number:
            return None
        return self.blocks[number - self.blocks[0].number].hash

    def numbers_newest_first(self) -> list[int]:
        return [bl.number for bl in reversed(self.blocks)]

    def record(self, headers: Sequence[Header], logs: Iterable[RawLog]) -> None:
        """Retain the blocks of a published range (`headers`: contiguous, ascending). Logs of
        blocks without a header lie below the window and are not kept."""
        if not headers:
            return
        newest = self.newest
        if newest is not None and headers[0].number <= newest.number:
            raise ValueError(f"block {headers[0].number} is already retained: truncate before re-recording")
        if newest is not None and headers[0].number != newest.number + 1:
            self.blocks.clear()  # a gap: everything older is below the window anyway
        by_number = {h.number: Block(h.number, h.hash) for h in headers}
        for lg in logs:
            if lg.block_number in by_number:
                by_number[lg.block_number].logs.append(lg)
        for h in headers:
            self.blocks.append(by_number[h.number])
        self.prune()

    def common_ancestor(self, chain: Mapping[int, str | None]) -> int | None:
        """The newest retained block whose hash equals the chain's (`chain`: number -> current
        hash, None if the node has no such block); None when every retained block differs."""
        for bl in reversed(self.blocks):
            if chain[bl.number] == bl.hash:
                return bl.number
        return None

    def orphaned(self, ancestor: int) -> list[RawLog]:
        """The logs above `ancestor` as removals, newest first (the undo order)."""
        logs = [lg for bl in self.blocks if bl.number > ancestor for lg in bl.logs]
        logs.sort(key=lambda lg: lg.cursor, reverse=True)
        return [dataclasses.replace(lg, removed=True) for lg in logs]

    def truncate(self, ancestor: int) -> None:
        self.blocks = [bl for bl in self.blocks if bl.number <= ancestor]

    def prune(self) -> None:
        if self.blocks:
            floor = self.blocks[-1].number - self.depth
            self.blocks = [bl for bl in self.blocks if bl.number >= floor]

    def to_data(self) -> list[dict[str, Any]]:
        return [{"number": bl.number, "hash": bl.hash, "logs": [orjson.loads(lg.encode()) for lg in bl.logs]}
                for bl in self.blocks]

    @classmethod
    def from_data(cls, data: object, depth: int) -> RecentChain:
        """Inverse of to_data; ValueError names what is malformed."""
        if not isinstance(data, list):
            raise ValueError("recent blocks are not a list")
        try:
            blocks = [Block(int(d["number"]), str(d["hash"]), [parse_raw_log(orjson.dumps(lg)) for lg in d["logs"]])
                      for d in data]
        except (KeyError, TypeError, ValueError, DecodeError) as exc:
            raise ValueError(f"malformed recent block: {exc!r}") from None
        for bl in blocks:
            if any(lg.block_number != bl.number or lg.block_hash != bl.hash for lg in bl.logs):
                raise ValueError(f"recent block {bl.number} holds a log of another block")
        return cls(depth, blocks)
