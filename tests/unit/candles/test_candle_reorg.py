"""Reorgs and finality in the per-token state: removing trades, settling, and their messages.

The oracle is a fresh TokenState that only ever saw the surviving trades (plain folding is
checked against an independent reference in test_candle_fold.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pads_stream.candles.codec import decode_state, encode_state
from pads_stream.candles.fold import Candle
from pads_stream.candles.intervals import bucket_start, parse_intervals
from pads_stream.candles.state import (
    DeepReorgError,
    TokenState,
    add_trade,
    apply_graduated,
    apply_trade,
    fold_tail,
    pending_buckets,
    remove_trade,
    settle,
    view,
)
from pads_stream.candles.windows import all_time_high
from pads_stream.decode.events import GraduatedEvent, LogRef, TradeEvent

INTERVALS = parse_intervals("1m,5m,15m,1h,4h,1d")
TOKEN = "0x" + "ab" * 20
TRADER = "0x" + "cd" * 20
CURVE = "0x" + "ef" * 20
T2024 = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp())

Bucket = tuple[int, int]  # (interval seconds, bucket start)


def block_hash(block: int, fork: int = 0) -> str:
    return "0x" + f"{fork:02x}" + f"{block:062x}"


def make_trade(block: int, log_index: int, ts: int, is_buy: bool = True, tok: int = 10**18, eth: int = 10**15,
               fork: int = 0, virtual: tuple[int, int] = (30 * 10**18, 10**27)) -> TradeEvent:
    ref = LogRef(1, CURVE, block, block_hash(block, fork), ts, "0x" + f"{block * 1000 + log_index:064x}",
                 log_index, False)
    return TradeEvent(TOKEN, TRADER, is_buy, tok, eth, virtual[0], virtual[1], ref)


def removal(trade: TradeEvent) -> LogRef:
    """What the node sends when the log leaves the canonical chain: same log, removed=True."""
    return replace(trade.ref, removed=True)


def pub(candles: dict[int, Candle]) -> dict[int, dict[str, Any]]:
    return {s: c.to_public() for s, c in candles.items()}


def pub_view(state: TokenState) -> dict[int, dict[int, dict[str, Any]]]:
    return {s: {t: c.to_public() for t, c in bs.items()} for s, bs in view(state, INTERVALS).items()}


def flat_view(state: TokenState) -> dict[Bucket, dict[str, Any]]:
    return {(s, t): c for s, bs in pub_view(state).items() for t, c in bs.items()}


def fresh(trades: list[TradeEvent], finalized: int | None = None) -> TokenState:
    state = TokenState()
    for tr in trades:
        assert apply_trade(state, tr, INTERVALS) is not None
    if finalized is not None:
        settle(state, finalized, INTERVALS)
    return state


def buckets_of(trades: list[TradeEvent]) -> set[Bucket]:
    return {(s, bucket_start(tr.ref.block_timestamp, s)) for tr in trades for s in INTERVALS}


def round_trip(state: TokenState) -> TokenState:
    """The table stores bytes: continue from the decoded state, after checking it is exact."""
    payload = encode_state(state)
    restored = decode_state(payload)
    assert encode_state(restored) == payload
    assert restored == state
    return restored


class Log:
    """The candle messages in the order the agent sends them, as the mirror applies them:
    per bucket the last version wins and a deletion removes it."""

    def __init__(self) -> None:
        self.live: dict[Bucket, dict[str, Any]] = {}
        self.final: dict[Bucket, bool] = {}
        self.ever: set[Bucket] = set()
        self.deleted: set[Bucket] = set()

    def emitted(self, out: list[tuple[int, Candle, bool]]) -> None:
        for s, c, final in out:
            # serialize now: the state keeps folding into the same Candle objects
            self.live[(s, c.t)] = c.to_public()
            self.final[(s, c.t)] = final
            self.ever.add((s, c.t))

    def removed(self, gone: list[Bucket]) -> None:
        for b in gone:
            assert b in self.live, f"deleted {b}, which was never shown"
            del self.live[b]
            del self.final[b]
            self.deleted.add(b)


# --------------------------------------------------------------------------- strategies

STEP = st.one_of(
    st.sampled_from([0, 0, 1, 59, 60, 61, 240, 299, 300, 3599, 3600, 14399, 14400, 86399, 86400]),
    st.integers(0, 100_000),
)
AMOUNT = st.one_of(st.integers(1, 10**27), st.integers(2**64, 2**160))


@st.composite
def chain_of_trades(draw: st.DrawFn, n: int, block: int, ts: int, fork: int) -> list[TradeEvent]:
    """n trades in chain order: (block, log_index) strictly increasing, timestamps non-decreasing
    and equal within a block, amounts up to far beyond 64 bits."""
    trades: list[TradeEvent] = []
    log_index = draw(st.integers(0, 5))
    for i in range(n):
        if i and draw(st.booleans()):  # another log of the same block
            log_index += draw(st.integers(1, 3))
        elif i:
            block += draw(st.integers(1, 40))
            ts += draw(STEP)
            log_index = draw(st.integers(0, 5))
        trades.append(make_trade(block, log_index, ts, draw(st.booleans()), draw(AMOUNT),
                                 draw(st.one_of(st.integers(0, 10**22), AMOUNT)), fork,
                                 (draw(AMOUNT), draw(AMOUNT))))
    return trades


@dataclass
class Scenario:
    trades: list[TradeEvent]
    settle_after: list[int | None]  # finalized block announced after trades[i], or None
    cut: int  # trades[cut:] leave the chain, newest first
    fork: list[TradeEvent]  # then the new chain's trades
    fork_settle_after: list[int | None]
    byte_trip: bool  # continue from decode(encode(state)) after every step


def settle_points(draw: st.DrawFn, trades: list[TradeEvent], limit_after: int | None,
                  floor: int) -> tuple[list[int | None], int]:
    """Monotone finalized blocks, each below the next trade's block (a finalized block is complete)
    and below `limit_after` (the lowest block that will be reorged)."""
    out: list[int | None] = []
    for i, tr in enumerate(trades):
        nxt = trades[i + 1].ref.block_number - 1 if i + 1 < len(trades) else tr.ref.block_number + 5
        hi = nxt if limit_after is None else min(nxt, limit_after - 1)
        if hi >= floor and draw(st.integers(0, 2)) == 0:
            floor = draw(st.integers(floor, hi))
            out.append(floor)
        else:
            out.append(None)
    return out, floor


@st.composite
def reorg_scenarios(draw: st.DrawFn) -> Scenario:
    n = draw(st.integers(1, 25))
    trades = draw(chain_of_trades(n, draw(st.integers(1, 10**7)), T2024 + draw(st.integers(0, 86400 * 30)), 0))
    # A reorg orphans whole blocks: the trades that leave start a block.
    starts = [i for i in range(n) if not i or trades[i].ref.block_number != trades[i - 1].ref.block_number]
    cut = draw(st.sampled_from([*starts, n]))
    first_gone = trades[cut].ref.block_number if cut < n else None
    settle_after, floor = settle_points(draw, trades, first_gone, trades[0].ref.block_number - 1)
    fork: list[TradeEvent] = []
    if draw(st.booleans()):
        if cut:
            last = trades[cut - 1].ref
            start = max(last.block_number + 1, first_gone or 0)
            ts = last.block_timestamp + draw(STEP)
        else:
            start, ts = trades[0].ref.block_number, trades[0].ref.block_timestamp + draw(STEP)
        # A new branch starts above every finalized block: finalized blocks never change.
        fork = draw(chain_of_trades(draw(st.integers(1, 10)), max(start, floor + 1), ts, 1))
    fork_settle_after, _ = settle_points(draw, fork, None, floor)
    return Scenario(trades, settle_after, cut, fork, fork_settle_after, draw(st.booleans()))


def finalized_any(sc: Scenario) -> bool:
    return any(f is not None for f in sc.settle_after + sc.fork_settle_after)


REORG_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- properties

@REORG_SETTINGS
@given(reorg_scenarios())
def test_removing_a_suffix_equals_never_having_seen_it(sc: Scenario) -> None:
    state = TokenState()
    log = Log()
    finalized: int | None = None

    def step(st_: TokenState) -> TokenState:
        return round_trip(st_) if sc.byte_trip else st_

    def run(trades: list[TradeEvent], points: list[int | None]) -> None:
        nonlocal state, finalized
        for tr, f in zip(trades, points, strict=True):
            out = apply_trade(state, tr, INTERVALS)
            assert out is not None
            log.emitted(out)
            state = step(state)
            if f is not None:
                finalized = f
                log.emitted(settle(state, f, INTERVALS))
                state = step(state)

    event(f"removed {min(len(sc.trades) - sc.cut, 3)}+, fork {bool(sc.fork)}, settles {finalized_any(sc)}")
    run(sc.trades, sc.settle_after)
    survivors = sc.trades[: sc.cut]
    for tr in reversed(sc.trades[sc.cut:]):
        result = remove_trade(state, removal(tr), INTERVALS)
        assert result is not None, f"pending trade {tr.ref.cursor} was not removed"
        emitted, deleted = result
        still = pending_buckets(state, INTERVALS)
        assert [f for _, _, f in emitted] == [(s, c.t) not in still for s, c, _ in emitted]
        assert not {(s, c.t) for s, c, _ in emitted} & set(deleted)
        log.emitted(emitted)
        log.removed(deleted)
        state = step(state)
        assert remove_trade(state, removal(tr), INTERVALS) is None  # a second removal is a no-op

    # right after the reorg: as if the removed trades had never been seen
    oracle = fresh(survivors, finalized)
    assert encode_state(state) == encode_state(oracle)
    assert log.live == flat_view(fresh(survivors))
    assert log.ever - log.deleted == buckets_of(survivors)

    event(f"buckets deleted by the reorg: {min(len(log.deleted), 3)}+")
    event(f"trades settled before the reorg: {min(sc.cut - len(state.pending), 3)}+")
    run(sc.fork, sc.fork_settle_after)
    final = survivors + sc.fork
    unsettled = fresh(final)
    oracle = fresh(final, finalized)
    assert pub(state.candles) == pub(unsettled.candles)
    assert state.market == unsettled.market
    assert pub_view(state) == pub_view(oracle)
    assert encode_state(state) == encode_state(oracle)
    # what the mirror ends up showing: exactly the surviving buckets, each at its latest version
    # (in message order: the new fork may fill a bucket the reorg deleted)
    assert set(log.live) == buckets_of(final)
    assert log.live == flat_view(unsettled)


@REORG_SETTINGS
@given(reorg_scenarios(), st.lists(st.booleans(), min_size=80, max_size=80))
def test_folding_a_block_at_once_and_the_ath_memo_equal_trade_by_trade(sc: Scenario, cuts: list[bool]) -> None:
    """`add_trade` leaves a block's trades in the tail, folded when the next block comes or a
    batch ends (`cuts`); `ath_price` walks the earlier blocks once per block. Through settles,
    a reorg and a new branch, both must equal `apply_trade` and `all_time_high` at every step."""
    eager, lazy = TokenState(), TokenState()
    ends = iter(cuts * 3)

    def check() -> None:  # what a trade's events read before it is applied
        assert lazy.ath_price() == all_time_high(lazy.activity, lazy.pending)[0] == eager.ath_price()

    def run(trades: list[TradeEvent], points: list[int | None]) -> None:
        for tr, f in zip(trades, points, strict=True):
            check()
            assert apply_trade(eager, tr, INTERVALS) is not None
            assert add_trade(lazy, tr, INTERVALS) is not None
            assert add_trade(lazy, tr, INTERVALS) is None
            if next(ends):  # a batch ends here
                fold_tail(lazy, INTERVALS)
                assert encode_state(lazy) == encode_state(eager)
            if f is not None:
                fold_tail(lazy, INTERVALS)  # the batch folds a token's tail before settling it
                settle(eager, f, INTERVALS)
                settle(lazy, f, INTERVALS)
                check()

    run(sc.trades, sc.settle_after)
    for tr in reversed(sc.trades[sc.cut:]):
        if next(ends):
            fold_tail(lazy, INTERVALS)
        assert remove_trade(lazy, removal(tr), INTERVALS) == remove_trade(eager, removal(tr), INTERVALS)
        check()
    run(sc.fork, sc.fork_settle_after)
    fold_tail(lazy, INTERVALS)
    assert encode_state(lazy) == encode_state(eager)
    assert pub(lazy.candles) == pub(fresh(sc.trades[: sc.cut] + sc.fork).candles)



@st.composite
def settle_scenarios(draw: st.DrawFn) -> tuple[list[TradeEvent], list[int | None], bool]:
    n = draw(st.integers(1, 30))
    trades = draw(chain_of_trades(n, draw(st.integers(1, 10**7)), T2024 + draw(st.integers(0, 86400 * 30)), 0))
    points, _ = settle_points(draw, trades, None, trades[0].ref.block_number - 1)
    return trades, points, draw(st.booleans())


@REORG_SETTINGS
@given(settle_scenarios())
def test_settling_only_flips_final_flags(scenario: tuple[list[TradeEvent], list[int | None], bool]) -> None:
    trades, points, byte_trip = scenario
    state, twin = TokenState(), TokenState()  # twin never settles
    log = Log()
    for tr, f in zip(trades, points, strict=True):
        out, twin_out = apply_trade(state, tr, INTERVALS), apply_trade(twin, tr, INTERVALS)
        assert out is not None and twin_out is not None
        assert [(s, c.to_public(), final) for s, c, final in out] == \
            [(s, c.to_public(), final) for s, c, final in twin_out]
        assert not any(final for _, _, final in out)
        log.emitted(out)
        if f is not None:
            was = pending_buckets(state, INTERVALS)
            flipped = settle(state, f, INTERVALS)
            now = pending_buckets(state, INTERVALS)
            assert all(final for _, _, final in flipped)
            flipped_buckets = [(s, c.t) for s, c, _ in flipped]
            assert len(set(flipped_buckets)) == len(flipped_buckets)
            assert set(flipped_buckets) <= was - now
            # every bucket that left pending is reported final, in the view or not
            assert was - now == set(flipped_buckets)
            assert all(p.block > f for p in state.pending)
            assert state.settled_cursor is None or state.settled_cursor[0] <= f
            log.emitted(flipped)
            event(f"settle reported {min(len(flipped), 3)}+ candles")
        if byte_trip:
            state = round_trip(state)
        else:
            payload = encode_state(state)
            assert encode_state(decode_state(payload)) == payload
        # contents never change, only flags
        assert pub(state.candles) == pub(twin.candles)
        assert state.market == twin.market
        full = flat_view(twin)
        current = flat_view(state)
        assert all(current[b] == full[b] for b in current)
        latest_settled = {(s, c.t) for s, c in state.settled.items()}
        assert set(current) == pending_buckets(state, INTERVALS) | latest_settled
        assert all(log.live[b] == current[b] for b in current)
        # what is in the view carries the right final flag: final exactly when no trade is pending
        pend = pending_buckets(state, INTERVALS)
        assert {b: log.final[b] for b in current} == {b: b not in pend for b in current}

    # finalize everything: the settled part alone holds the whole history
    settle(state, trades[-1].ref.block_number, INTERVALS)
    assert state.pending == [] and state.settled_cursor == trades[-1].ref.cursor
    assert pub(state.settled) == pub(twin.candles) == pub(state.candles)
    assert state.settled_market == twin.market == state.market
    assert settle(state, trades[-1].ref.block_number + 100, INTERVALS) == []


def settle_by_definition(state: TokenState, finalized: int) -> list[tuple[int, dict[str, Any], bool]]:
    """What settling means, O(pending): the buckets that leave pending, with their contents in
    the view before, by interval then bucket."""
    before, was = view(state, INTERVALS), pending_buckets(state, INTERVALS)
    now = {(s, bucket_start(p.ts, s)) for p in state.pending if p.block > finalized for s in INTERVALS}
    return [(s, before[s][t].to_public(), True) for (s, t) in sorted(was - now)]


@REORG_SETTINGS
@given(settle_scenarios())
def test_settle_equals_its_definition(scenario: tuple[list[TradeEvent], list[int | None], bool]) -> None:
    trades, points, _ = scenario
    state = TokenState()
    for k, (tr, f) in enumerate(zip(trades, points, strict=True)):
        apply_trade(state, tr, INTERVALS)
        if f is None:
            continue
        expected = settle_by_definition(state, f)
        finals = [t for t in trades if t.ref.block_number <= f]
        got = settle(state, f, INTERVALS)
        assert [(s, c.to_public(), final) for s, c, final in got] == expected
        if not finals:
            continue
        # settled holds each interval's latest bucket, and the market, of the final trades
        # folded one by one as pending trades
        unsettled = fresh(finals)
        assert pub(state.settled) == {s: c.to_public() for s, c in unsettled.candles.items()}
        assert state.settled_market == unsettled.market
        # what stays pending is exactly the trades not final yet, one entry per block
        assert [(pb.block, i) for pb in state.pending for i in pb.indexes] == \
            [t.ref.cursor for t in trades[:k + 1] if t.ref.block_number > f]
        assert len({pb.block for pb in state.pending}) == len(state.pending)
        assert encode_state(decode_state(encode_state(state))) == encode_state(state)
        event(f"settle flipped {min(len(got), 4)}+")


def test_every_bucket_that_becomes_final_is_reported() -> None:
    state = TokenState()
    log = Log()
    log.emitted(apply_trade(state, make_trade(1, 0, T2024), INTERVALS) or [])
    log.emitted(apply_trade(state, make_trade(2, 0, T2024 + 60), INTERVALS) or [])
    log.emitted(settle(state, 2, INTERVALS))  # one marker finalizes both blocks
    assert state.pending == []
    assert log.final[(60, T2024)] is True  # the 00:00 minute candle is final but was never said to be


def test_settle_in_steps_reports_each_bucket() -> None:
    """The same two trades, finalized one marker per block: both 1m buckets are reported."""
    state = TokenState()
    apply_trade(state, make_trade(1, 0, T2024), INTERVALS)
    apply_trade(state, make_trade(2, 0, T2024 + 60), INTERVALS)
    first = settle(state, 1, INTERVALS)
    assert [(s, c.t, f) for s, c, f in first] == [(60, T2024, True)]
    second = settle(state, 2, INTERVALS)
    assert sorted((s, c.t) for s, c, _ in second) == [(s, T2024 if s > 60 else T2024 + 60) for s in INTERVALS]
    assert settle(state, 2, INTERVALS) == [] and settle(state, 1, INTERVALS) == []


# --------------------------------------------------------------------------- removal cases

def three_trades_one_settled() -> tuple[TokenState, list[TradeEvent]]:
    trades = [make_trade(10, 0, T2024), make_trade(11, 2, T2024 + 12), make_trade(12, 1, T2024 + 24)]
    state = fresh(trades)
    settle(state, 10, INTERVALS)
    assert state.settled_cursor == (10, 0) and [p.cursor for p in state.pending] == [(11, 2), (12, 1)]
    return state, trades


@pytest.mark.parametrize(
    ("block", "log_index", "fork", "expected"),
    [
        (12, 1, 0, "removed"),  # the newest pending trade
        (11, 2, 0, "removed"),  # an older pending trade
        (12, 1, 1, None),  # right position, other block hash: a log of a fork never applied
        (11, 2, 7, None),
        (13, 0, 0, None),  # newer than anything applied
        (12, 0, 0, None),  # not pending, newer than settled, never applied
        (11, 3, 0, None),
        (10, 1, 0, None),  # same block as the settled cursor, but after it
        (10, 0, 0, DeepReorgError),  # the settled trade itself
        (10, 0, 1, DeepReorgError),  # at the settled cursor: its hash is no longer known, refuse
        (9, 99, 0, DeepReorgError),  # below the settled cursor
        (1, 0, 0, DeepReorgError),
    ],
)
def test_remove_trade_cases(block: int, log_index: int, fork: int, expected: object) -> None:
    state, _ = three_trades_one_settled()
    before = encode_state(state)
    ref = replace(make_trade(block, log_index, T2024, fork=fork).ref, removed=True)
    if expected is DeepReorgError:
        with pytest.raises(DeepReorgError, match="FINALITY_DEPTH"):
            remove_trade(state, ref, INTERVALS)
        assert encode_state(state) == before
    elif expected is None:
        assert remove_trade(state, ref, INTERVALS) is None
        assert encode_state(state) == before
    else:
        assert remove_trade(state, ref, INTERVALS) is not None
        assert (block, log_index) not in [p.cursor for p in state.pending]
        assert remove_trade(state, ref, INTERVALS) is None  # already removed



def test_a_block_leaves_whole_with_its_first_removed_log() -> None:
    """The node removes every log of an orphaned block; the first removal takes the block's
    trades out of the candles, each removal takes its own trade out of the mirror once."""
    kept = make_trade(10, 0, T2024)
    block = [make_trade(11, 1, T2024 + 61), make_trade(11, 4, T2024 + 61, is_buy=False, eth=5 * 10**15)]
    state = fresh([kept, *block, make_trade(12, 2, T2024 + 130)])
    first = remove_trade(state, removal(block[1]), INTERVALS)
    assert first is not None and first != ([], [])
    assert [pb.block for pb in state.pending] == [10, 12]
    assert state.orphaned == [(11, block[0].ref.block_hash, [1])]
    assert pub_view(state) == pub_view(fresh([kept, make_trade(12, 2, T2024 + 130)]))
    assert remove_trade(state, removal(block[1]), INTERVALS) is None  # its own removal, again
    assert remove_trade(round_trip(state), removal(block[0]), INTERVALS) == ([], [])
    state = round_trip(state)
    assert remove_trade(state, removal(block[0]), INTERVALS) == ([], [])
    assert state.orphaned == []
    assert remove_trade(state, removal(block[0]), INTERVALS) is None


def test_removals_sent_again_after_the_new_branch_change_nothing() -> None:
    """A bridge restarted mid-reorg may publish the old branch's removals again after the new
    branch's logs: the trade re-included at the same position must stay."""
    old = [make_trade(11, 1, T2024), make_trade(11, 4, T2024)]
    new = make_trade(11, 1, T2024, fork=1, eth=9 * 10**15)
    state = fresh(old)
    for tr in old:
        assert remove_trade(state, removal(tr), INTERVALS) is not None
    assert apply_trade(state, new, INTERVALS) is not None
    after = encode_state(state)
    for tr in old:
        assert remove_trade(state, removal(tr), INTERVALS) is None
    assert encode_state(state) == after == encode_state(fresh([new]))


def test_orphaned_logs_are_forgotten_once_their_height_is_final() -> None:
    state = fresh([make_trade(11, 1, T2024), make_trade(11, 4, T2024), make_trade(12, 0, T2024 + 5)])
    remove_trade(state, removal(make_trade(11, 4, T2024)), INTERVALS)
    apply_trade(state, make_trade(13, 0, T2024 + 9), INTERVALS)
    settle(state, 10, INTERVALS)
    assert [o[0] for o in state.orphaned] == [11]  # nothing settled: unchanged
    settle(state, 12, INTERVALS)
    assert state.orphaned == []


def test_removal_without_anything_settled_never_raises() -> None:
    state = fresh([make_trade(10, 0, T2024)])
    assert remove_trade(state, removal(make_trade(1, 0, T2024)), INTERVALS) is None
    assert remove_trade(TokenState(), removal(make_trade(1, 0, T2024)), INTERVALS) is None


@pytest.mark.parametrize(
    ("dup", "settle_at"),
    [
        ((12, 1), None),  # the newest pending trade
        ((11, 2), None),  # an older pending trade
        ((10, 0), 10),  # a settled trade
        ((11, 1), 10),  # a lower log index than a pending trade of the same block
        ((9, 0), 10),
    ],
)
def test_redelivered_trade_is_a_duplicate(dup: tuple[int, int], settle_at: int | None) -> None:
    trades = [make_trade(10, 0, T2024), make_trade(11, 2, T2024 + 12), make_trade(12, 1, T2024 + 24)]
    state = fresh(trades, settle_at)
    before = encode_state(state)
    assert apply_trade(state, make_trade(*dup, T2024 + 24), INTERVALS) is None
    assert encode_state(state) == before


def test_removed_trade_can_be_applied_again() -> None:
    """The chain can switch back: once removed, the same log is new again."""
    trades = [make_trade(10, 0, T2024), make_trade(11, 0, T2024 + 70)]
    state = fresh(trades)
    assert remove_trade(state, removal(trades[1]), INTERVALS) is not None
    assert state.cursor == (10, 0)
    assert apply_trade(state, trades[1], INTERVALS) is not None
    assert encode_state(state) == encode_state(fresh(trades))


def test_removal_reopens_the_previous_bucket() -> None:
    t0 = make_trade(10, 0, T2024 + 30, eth=2, tok=1)  # 00:00:30
    t1 = make_trade(11, 0, T2024 + 90, eth=4, tok=1)  # 00:01:30, a new minute
    state = fresh([t0, t1])
    assert state.candles[60].t == T2024 + 60
    result = remove_trade(state, removal(t1), INTERVALS)
    assert result is not None
    emitted, deleted = result
    assert deleted == [(60, T2024 + 60)]  # the emptied minute
    # the minute of t0 did not change and is still pending: not sent again; the longer ones lost t1
    assert [(s, c.t, f) for s, c, f in emitted] == [(s, T2024, False) for s in INTERVALS if s > 60]
    assert all(c.trades == 1 and c.to_public()["close"] == "2" for _, c, _ in emitted)
    assert state.candles[60].t == T2024 and state.candles[60].to_public()["close"] == "2"
    assert state.cursor == (10, 0) and state.market["price"] == "2" and state.market["trades"] == "1"
    # the re-opened minute accepts trades again (no OrderError)
    out = apply_trade(state, make_trade(11, 0, T2024 + 45, eth=3, tok=1, fork=1), INTERVALS)
    assert out is not None and dict((s, c.t) for s, c, _ in out)[60] == T2024
    assert state.candles[60].to_public()["high"] == "3" and state.candles[60].trades == 2


def test_removal_reopens_a_settled_bucket_and_reports_it_final() -> None:
    t0 = make_trade(10, 0, T2024 + 30)
    t1 = make_trade(11, 0, T2024 + 40)  # same minute as t0
    t2 = make_trade(12, 0, T2024 + 90)  # next minute
    state = fresh([t0, t1, t2])
    settle(state, 10, INTERVALS)
    r2 = remove_trade(state, removal(t2), INTERVALS)
    assert r2 is not None and r2[1] == [(60, T2024 + 60)]
    assert all(f is False for _, _, f in r2[0])  # t1 still pending in every interval
    r1 = remove_trade(state, removal(t1), INTERVALS)
    assert r1 is not None
    emitted, deleted = r1
    assert deleted == []  # t0 still fills every bucket
    # every bucket now holds only settled t0: its content changed and it became final
    assert [(s, c.t, c.trades, f) for s, c, f in emitted] == [(s, bucket_start(T2024 + 30, s), 1, True)
                                                              for s in INTERVALS]
    assert state.pending == [] and state.cursor == (10, 0)
    assert pub(state.candles) == pub(state.settled)


@pytest.mark.parametrize(
    # trades of one minute as (eth, tok, is_buy); each removal takes the newest; expected 1m candle after it
    ("trades", "expected"),
    [
        ([(1, 1, True), (3, 1, False), (2, 1, True)],
         [("1", "3", "1", "3", 2, 1, 1), ("1", "1", "1", "1", 1, 1, 0), None]),
        ([(5, 1, False), (1, 1, True)],
         [("5", "5", "5", "5", 1, 0, 1), None]),
        ([(1, 3, True), (2, 3, True), (1, 4, False)],
         [("0.333333333333333333333333333333", "0.666666666666666666666666666667",
           "0.333333333333333333333333333333", "0.666666666666666666666666666667", 2, 2, 0),
          ("0.333333333333333333333333333333",) * 4 + (1, 1, 0), None]),
    ],
)
def test_removal_refolds_the_bucket(trades: list[tuple[int, int, bool]],
                                    expected: list[tuple[str, str, str, str, int, int, int] | None]) -> None:
    evs = [make_trade(10 + i, 0, T2024 + 5 * i, is_buy=b, eth=e, tok=t) for i, (e, t, b) in enumerate(trades)]
    state = fresh(evs)
    for ev, want in zip(reversed(evs), expected, strict=True):
        result = remove_trade(state, removal(ev), INTERVALS)
        assert result is not None
        emitted, deleted = result
        if want is None:
            assert deleted == [(s, bucket_start(T2024, s)) for s in INTERVALS] and emitted == []
            assert state.candles == {} and state.cursor is None and state.market == {}
        else:
            c = state.candles[60].to_public()
            assert (c["open"], c["high"], c["low"], c["close"], c["trades"], c["buys"], c["sells"]) == want
            assert deleted == [] and dict((s, cc.to_public()) for s, cc, _ in emitted)[60] == c


def test_emitted_removal_candles_are_not_aliased_with_settled() -> None:
    """Folding new trades into the current candle must not change the settled one."""
    t0, t1 = make_trade(10, 0, T2024), make_trade(11, 0, T2024 + 5)
    state = fresh([t0, t1])
    settle(state, 10, INTERVALS)
    settled_before = pub(state.settled)
    assert remove_trade(state, removal(t1), INTERVALS) is not None
    apply_trade(state, make_trade(11, 0, T2024 + 6, fork=1, eth=10**18), INTERVALS)
    assert pub(state.settled) == settled_before
    assert state.candles[60].trades == 2


# --------------------------------------------------------------------------- graduation

def graduation(block: int, log_index: int, fork: int = 0, removed: bool = False) -> GraduatedEvent:
    ref = replace(make_trade(block, log_index, T2024 + block, fork=fork).ref, removed=removed)
    return GraduatedEvent(TOKEN, 10**20, 10**26, ref)


@pytest.mark.parametrize(
    ("fork", "undone"),
    [(0, True), (1, False), (2, False)],
)
def test_graduation_removal_only_undoes_a_matching_block_hash(fork: int, undone: bool) -> None:
    state = fresh([make_trade(10, 0, T2024)])
    assert apply_graduated(state, graduation(10, 1)) is True
    assert state.market["graduated"] == "1" and state.market["graduated_block"] == "10"
    before = encode_state(state)
    assert apply_graduated(state, graduation(10, 1, fork=fork, removed=True)) is undone
    if undone:
        assert not {"graduated", "graduated_block", "graduated_at", "graduation_eth_reserves",
                    "graduated_hash"} & set(state.market)
        assert state.market["trades"] == "1"
        assert apply_graduated(state, graduation(10, 1, removed=True)) is False  # already undone
    else:
        assert encode_state(state) == before
        assert state.market["graduated"] == "1"


def test_graduation_removal_without_graduation_is_a_no_op() -> None:
    state = fresh([make_trade(10, 0, T2024)])
    before = encode_state(state)
    assert apply_graduated(state, graduation(10, 1, removed=True)) is False
    assert encode_state(state) == before


def test_new_fork_trade_after_a_removed_graduation_is_applied() -> None:
    state = fresh([make_trade(11, 0, T2024)])
    assert apply_graduated(state, graduation(12, 3)) is True
    assert apply_graduated(state, graduation(12, 3, removed=True)) is True  # block 12 left the chain
    assert apply_trade(state, make_trade(12, 1, T2024 + 24, fork=1), INTERVALS) is not None  # block 12'
