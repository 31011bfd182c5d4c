"""The recent-chain tracker: common ancestor, orphaned logs, window, fetch checks, round trip.

Blocks are written as (number, branch): branch "a" is the chain as published, "b" a
competing branch. Hashes are derived from both, so a replaced block has another hash.
"""

from __future__ import annotations

import json

import pytest

from bridge.reorg import Block, Header, RecentChain, fetch_problem, hash_window
from pads_stream.chain.rawlog import RawLog

CURVE = "0x" + "c3" * 20


def bhash(n: int, branch: str = "a") -> str:
    return f"0x{ord(branch):02x}{n:062x}"


def raw(n: int, i: int, branch: str = "a") -> RawLog:
    return RawLog(chain_id=8453, address=CURVE, topics=("0x" + "11" * 32,), data="0x" + f"{n:04x}{i:04x}",
                  block_number=n, block_hash=bhash(n, branch), block_timestamp=1_700_000_000 + n,
                  transaction_hash="0x" + f"{n:032x}{i:032x}", transaction_index=i, log_index=i)


def headers(numbers: range, branch: str = "a") -> list[Header]:
    return [Header(n, bhash(n, branch), bhash(n - 1, branch)) for n in numbers]


def tracker(numbers: range, logs: dict[int, list[int]] | None = None, depth: int = 5) -> RecentChain:
    """A tracker that published `numbers` on branch a, with logs {block: [log_index, ...]}."""
    t = RecentChain(depth)
    t.record(headers(numbers), [raw(n, i) for n, idx in (logs or {}).items() for i in idx])
    return t


def chain(numbers: range, replaced_from: int | None, missing_from: int | None = None) -> dict[int, str | None]:
    """The node's current hashes: branch a below `replaced_from`, branch b from it on."""
    out: dict[int, str | None] = {}
    for n in numbers:
        if missing_from is not None and n >= missing_from:
            out[n] = None
        else:
            out[n] = bhash(n, "b") if replaced_from is not None and n >= replaced_from else bhash(n)
    return out


WINDOW = range(10, 16)  # depth 5: six retained blocks, 10..15
LOGS = {11: [0, 1], 13: [2, 5], 14: [0], 15: [3]}


@pytest.mark.parametrize(
    ("case", "current", "ancestor", "removed"),
    [
        ("no reorg", chain(WINDOW, None), 15, []),
        ("1-block reorg", chain(WINDOW, 15), 14, [(15, 3)]),
        ("3-block reorg, logs in some blocks", chain(WINDOW, 13), 12, [(15, 3), (14, 0), (13, 5), (13, 2)]),
        ("ancestor at the window edge", chain(WINDOW, 11), 10, [(15, 3), (14, 0), (13, 5), (13, 2), (11, 1), (11, 0)]),
        ("deeper than the window", chain(WINDOW, 10), None, None),
        ("chain now shorter", chain(WINDOW, None, missing_from=14), 13, [(15, 3), (14, 0)]),
        ("shorter and replaced", chain(WINDOW, 12, missing_from=15), 11, [(15, 3), (14, 0), (13, 5), (13, 2)]),
    ],
)
def test_common_ancestor_and_orphaned_logs(case: str, current: dict[int, str | None], ancestor: int | None,
                                           removed: list[tuple[int, int]] | None) -> None:
    t = tracker(WINDOW, LOGS)
    assert t.common_ancestor(current) == ancestor, case
    if ancestor is None:
        return
    orphans = t.orphaned(ancestor)
    assert [lg.cursor for lg in orphans] == removed
    assert all(lg.removed for lg in orphans)
    originals = {lg.cursor: lg for bl in t.blocks for lg in bl.logs}
    # Identical to what was published except the flag, so consumers find the log they must undo.
    assert all(lg.encode() == originals[lg.cursor].encode().replace(b'"removed":false', b'"removed":true')
               for lg in orphans)
    t.truncate(ancestor)
    assert t.newest is not None and t.newest.number == ancestor
    assert t.orphaned(ancestor) == []


def test_walk_needs_only_the_blocks_down_to_the_ancestor() -> None:
    t = tracker(WINDOW, LOGS)
    # Only 15, 14 and 13 were fetched; 13 matches, so older blocks are never consulted.
    assert t.common_ancestor({15: bhash(15, "b"), 14: bhash(14, "b"), 13: bhash(13)}) == 13


def test_deep_reorg_removes_every_retained_log() -> None:
    t = tracker(WINDOW, LOGS)
    assert t.common_ancestor(chain(WINDOW, 0)) is None
    oldest = t.oldest
    assert oldest is not None
    orphans = t.orphaned(oldest.number - 1)
    assert len(orphans) == sum(len(v) for v in LOGS.values())
    assert [lg.cursor for lg in orphans] == sorted((lg.cursor for lg in orphans), reverse=True)
    t.truncate(oldest.number - 1)
    assert t.newest is None and t.blocks == []


def test_new_branch_recorded_after_truncate() -> None:
    t = tracker(WINDOW, LOGS)
    t.truncate(12)
    t.record(headers(range(13, 17), "b"), [raw(13, 0, "b"), raw(16, 4, "b")])
    assert [(bl.number, bl.hash) for bl in t.blocks] == [(11, bhash(11)), (12, bhash(12))] + [
        (n, bhash(n, "b")) for n in range(13, 17)]
    assert [lg.cursor for lg in t.orphaned(12)] == [(16, 4), (13, 0)]


@pytest.mark.parametrize(
    ("depth", "ranges", "retained"),
    [
        (5, [range(10, 16)], range(10, 16)),  # exactly depth + 1
        (5, [range(10, 20)], range(14, 20)),
        (3, [range(1, 3), range(3, 4), range(4, 9)], range(5, 9)),
        (1, [range(0, 1)], range(0, 1)),
        (2, [range(0, 5), range(5, 6)], range(3, 6)),
        (5, [range(10, 12), range(20, 22)], range(20, 22)),  # a gap drops the older blocks
        (5, [range(10, 12), range(12, 12)], range(10, 12)),  # an empty range keeps everything
    ],
)
def test_window_keeps_the_last_depth_plus_one_blocks(depth: int, ranges: list[range], retained: range) -> None:
    t = RecentChain(depth)
    for r in ranges:
        t.record(headers(r), [raw(n, 0) for n in r])
    assert [bl.number for bl in t.blocks] == list(retained)
    assert all(t.hash_of(n) == bhash(n) for n in retained)
    assert t.hash_of(retained.start - 1) is None and t.hash_of(retained.stop) is None


def test_logs_below_the_window_are_not_kept() -> None:
    t = RecentChain(5)
    t.record(headers(range(100, 101)), [raw(40, 0), raw(99, 1), raw(100, 2)])
    assert [lg.cursor for bl in t.blocks for lg in bl.logs] == [(100, 2)]


@pytest.mark.parametrize("first", [15, 12])
def test_recording_a_retained_block_again_is_refused(first: int) -> None:
    t = tracker(WINDOW)
    with pytest.raises(ValueError, match="truncate"):
        t.record(headers(range(first, 18)), [])


@pytest.mark.parametrize(
    ("a", "b", "head", "depth", "window"),
    [
        (0, 1999, 100_000, 30, range(1999, 2000)),  # deep backfill: only the last block
        (99_000, 100_000, 100_000, 30, range(99_970, 100_001)),  # the tail of the range
        (100_000, 100_000, 100_000, 30, range(100_000, 100_001)),  # live: the new block
        (99_990, 99_995, 100_000, 30, range(99_990, 99_996)),  # all inside the window
        (0, 10, 10, 30, range(0, 11)),  # young chain
        (50, 69, 100, 30, range(69, 70)),  # ends just below the window
        (50, 70, 100, 30, range(70, 71)),  # ends at its edge
    ],
)
def test_hash_window(a: int, b: int, head: int, depth: int, window: range) -> None:
    assert hash_window(a, b, head, depth) == window


@pytest.mark.parametrize(
    ("case", "hdrs", "logs", "prev", "problem"),
    [
        ("consistent", headers(range(10, 13)), [raw(10, 0), raw(12, 1)], bhash(9), None),
        ("nothing retained before", headers(range(10, 13)), [raw(11, 0)], None, None),
        ("log below the window", headers(range(10, 13)), [raw(5, 0, "b")], bhash(9), None),
        ("first block on another parent", headers(range(10, 13)), [], bhash(9, "b"), "no longer follows"),
        ("broken link", headers(range(10, 12)) + headers(range(12, 13), "b"), [], None, "does not follow"),
        ("skipped number", headers(range(10, 11)) + headers(range(12, 13)), [], None, "does not follow"),
        ("log from another branch", headers(range(10, 13)), [raw(11, 0, "b")], bhash(9), "log 11/0"),
        ("no headers", [], [raw(11, 0)], bhash(9), None),
    ],
)
def test_fetch_problem(case: str, hdrs: list[Header], logs: list[RawLog], prev: str | None,
                       problem: str | None) -> None:
    found = fetch_problem(hdrs, logs, prev)
    if problem is None:
        assert found is None, case
    else:
        assert found is not None and problem in found, case


@pytest.mark.parametrize(
    ("numbers", "logs"),
    [(range(0), {}), (range(7, 8), {}), (WINDOW, LOGS), (range(0, 3), {0: [0, 1, 2], 2: [7]})],
)
def test_serialisation_round_trip(numbers: range, logs: dict[int, list[int]]) -> None:
    t = tracker(numbers, logs)
    data = json.loads(json.dumps(t.to_data()))  # as the checkpoint file stores it
    back = RecentChain.from_data(data, 5)
    assert back.blocks == t.blocks
    assert back.to_data() == t.to_data()


def test_from_data_prunes_to_a_smaller_depth() -> None:
    back = RecentChain.from_data(tracker(WINDOW, LOGS, depth=5).to_data(), 2)
    assert [bl.number for bl in back.blocks] == [13, 14, 15]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"number": 1}, "not a list"),
        ([{"number": 1}], "malformed"),
        ([{"number": 1, "hash": bhash(1), "logs": [{"chain_id": 1}]}], "malformed"),
        ([{"number": 1, "hash": bhash(1), "logs": None}], "malformed"),
        ([{"number": 2, "hash": bhash(2), "logs": [json.loads(raw(1, 0).encode())]}], "another block"),
        ([{"number": 1, "hash": bhash(1), "logs": []}, {"number": 3, "hash": bhash(3), "logs": []}],
         "not contiguous"),
    ],
)
def test_from_data_rejects_malformed(data: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RecentChain.from_data(data, 5)


def test_depth_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RecentChain(0)
    assert RecentChain(1, [Block(3, bhash(3))]).hash_of(3) == bhash(3)
