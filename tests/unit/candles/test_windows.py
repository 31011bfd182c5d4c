"""Rolling windows, the all-time high and the derived market fields, against a plain
recomputation over the trades that survive (no minutes, no pending blocks, no pruning)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from pads_stream.candles.market import Market, MarketParams, TokenInfo, TradeTotals, rank_scores
from pads_stream.candles.price import format_price, trade_price
from pads_stream.candles.state import TokenState, apply_trade, remove_trade, settle
from pads_stream.candles.windows import next_change, window_start
from pads_stream.decode.events import LogRef, TradeEvent

TOKEN = "0x" + "ab" * 20
CURVE = "0x" + "ef" * 20
INTERVALS = (60,)
T0 = 1_700_000_080  # 20 s before a minute boundary
PARAMS = MarketParams(windows=(300, 3600))


def trade(block: int, log_index: int, ts: int, eth: int = 10**15, tok: int = 10**18, trader: int = 1,
          is_buy: bool = True, virtual_eth: int = 40 * 10**18) -> TradeEvent:
    ref = LogRef(1, CURVE, block, "0x" + f"{block:064x}", ts, "0x" + f"{block * 1000 + log_index:064x}",
                 log_index, False)
    return TradeEvent(TOKEN, f"0x{trader:040x}", is_buy, tok, eth, virtual_eth, 10**27, ref)


def state_of(trades: list[TradeEvent], finalized: int = -1) -> TokenState:
    s = TokenState()
    for t in trades:
        apply_trade(s, t, INTERVALS)
    if finalized >= 0:
        settle(s, finalized, INTERVALS)
    return s


@dataclass
class Plain:
    trades: int = 0
    volume_eth: int = 0
    traders: int = 0
    high: Decimal | None = None
    low: Decimal | None = None
    open: Decimal | None = None


def plain(trades: list[TradeEvent], t: int, window: int) -> Plain:
    start = t - t % 60 - window + 60
    inside = [x for x in trades if x.ref.block_timestamp >= start]
    before = [x for x in trades if x.ref.block_timestamp < start]
    prices = [trade_price(x.eth_amount, x.token_amount) for x in inside]
    opener = before[-1] if before else (inside[0] if inside else None)
    return Plain(len(inside), sum(x.eth_amount for x in inside), len({x.trader for x in inside}),
                 max(prices) if prices else None, min(prices) if prices else None,
                 trade_price(opener.eth_amount, opener.token_amount) if opener else None)


def got(s: TokenState, t: int, window: int) -> Plain:
    w = s.snapshot(t, PARAMS).windows[window]
    return Plain(w.trades, w.volume_eth, w.traders, w.high, w.low, w.open)


# ------------------------------------------------------------------------------- edges, by table

M = 1_700_000_100  # a minute's first second
EDGE_CASES = [
    # (trade timestamp, chain time, in the 5-minute window?)
    (M, M, True),
    (M, M + 299, True),  # the window is the last five minutes, the current one included
    (M, M + 300, False),  # its minute left
    (M + 59, M + 299, True),  # the minute's last second
    (M + 59, M + 300, False),  # leaves with its minute, 241 s after it happened
    (M - 1, M + 239, True),  # the minute before: out at M + 240
    (M - 1, M + 240, False),
]


def test_window_edges() -> None:
    for ts, t, inside in EDGE_CASES:
        minute = ts - ts % 60
        assert (ts >= window_start(t, 300)) is inside, (ts, t)
        assert (t < minute + 300) is inside, (ts, t)
        s = state_of([trade(1, 0, ts)])
        assert got(s, t, 300).trades == (1 if inside else 0), (ts, t)


def test_a_trade_exactly_on_the_windows_first_second_is_in_it() -> None:
    t = 1_700_003_630
    start = window_start(t, 3600)
    assert start % 60 == 0
    s = state_of([trade(1, 0, start - 1, trader=1), trade(2, 0, start, trader=2, eth=3 * 10**15)])
    w = s.snapshot(t, PARAMS).windows[3600]
    assert (w.trades, w.volume_eth, w.traders) == (1, 3 * 10**15, 1)
    assert w.open == trade_price(10**15, 10**18)  # the price before the window, not its first trade


def test_an_idle_token_shows_zeros_and_keeps_its_open_from_before() -> None:
    s = state_of([trade(1, 0, T0), trade(2, 0, T0 + 30, eth=2 * 10**15)], finalized=2)
    m = s.snapshot(T0 + 86_400, PARAMS).wire()
    assert m["trades_5m"] == "0" and m["volume_eth_1h"] == "0" and m["traders_1h"] == "0"
    assert "high_5m" not in m and "low_1h" not in m
    assert m["open_5m"] == m["price"] == "0.002" and m["change_5m"] == "0"


def test_open_comes_from_before_the_window_and_change_from_it() -> None:
    s = state_of([trade(1, 0, T0, eth=10**15), trade(2, 0, T0 + 400, eth=3 * 10**15)])
    m = s.snapshot(T0 + 400, PARAMS).wire()
    assert m["open_5m"] == "0.001" and m["price"] == "0.003" and m["change_5m"] == "200"
    assert m["open_1h"] == "0.001" and m["trades_1h"] == "2" and m["change_1h"] == "200"


def test_a_reorg_removing_the_only_trade_of_a_window_and_the_ath() -> None:
    first, top = trade(1, 0, T0, eth=10**15), trade(9, 0, T0 + 600, eth=9 * 10**15, trader=7)
    s = state_of([first, top], finalized=1)
    before = s.snapshot(T0 + 610, PARAMS).wire()
    assert before["trades_5m"] == "1" and before["ath_price"] == "0.009" and before["ath_at"] == str(T0 + 600)
    remove_trade(s, replace(top.ref, removed=True), INTERVALS)
    after = s.snapshot(T0 + 610, PARAMS).wire()
    assert after == state_of([first], finalized=1).snapshot(T0 + 610, PARAMS).wire()
    assert after["trades_5m"] == "0" and after["traders_1h"] == "1" and after["ath_price"] == "0.001"
    assert after["ath_at"] == str(T0)


def test_ath_is_the_first_trade_at_the_highest_price() -> None:
    s = state_of([trade(1, 0, T0, eth=5 * 10**15), trade(2, 0, T0 + 5, eth=5 * 10**15), trade(3, 0, T0 + 9)],
                 finalized=2)
    m = s.snapshot(T0 + 9, PARAMS).wire()
    assert m["ath_price"] == "0.005" and m["ath_at"] == str(T0)
    assert m["ath_market_cap_eth"] == "5000000" and m["market_cap_eth"] == "1000000"


def test_curve_progress_and_rankings() -> None:
    p = MarketParams(windows=(300,), initial_virtual_eth=30 * 10**18, graduation_eth=85 * 10**18)
    info = TokenInfo(created_at=100)
    totals = TradeTotals(Decimal("0.001"), 1, 0, 100, 30 * 10**18 + 17 * 10**18, 10**27, 1, 10**18, 10**21)
    m = Market(info, totals, params=p).wire()
    assert m["curve_progress"] == "20"
    assert rank_scores(m) == {"created": "100", "market_cap": "1000000", "progress": "20", "graduated": None,
                              "volume_5m": "0"}
    info.graduated, info.graduated_at = True, 200
    m = Market(info, totals, params=p).wire()
    assert m["curve_progress"] == "100"
    scores = rank_scores(m)
    assert scores is not None and scores["progress"] is None and scores["graduated"] == "200"
    created = TokenInfo(name="N", created_at=100)
    assert Market(created, TradeTotals(), params=p).wire()["curve_progress"] == "0"  # before its first trade
    assert Market(TokenInfo(), TradeTotals(), params=p).wire() == {}  # a creation a reorg took: nothing
    assert rank_scores({"price": "1"}) is None  # no derived fields: nothing to rank by


def test_next_change_is_when_the_oldest_trade_of_a_window_leaves_it() -> None:
    s = state_of([trade(1, 0, T0), trade(2, 0, T0 + 100)], finalized=1)
    minute = T0 - T0 % 60
    assert next_change(s.activity, s.pending, T0 + 100, (300, 3600)) == minute + 300
    assert next_change(s.activity, s.pending, minute + 300, (300, 3600)) == (T0 + 100) - (T0 + 100) % 60 + 300
    assert next_change(s.activity, s.pending, minute + 3600 + 120, (300, 3600)) is None


# ------------------------------------------------------------------------------- property

blocks_strategy = st.lists(
    st.tuples(st.integers(1, 400),  # seconds since the previous block
              st.lists(st.tuples(st.integers(1, 9), st.integers(1, 50), st.booleans()), min_size=1, max_size=3)),
    min_size=1, max_size=25)


@settings(max_examples=150, deadline=None)
@given(blocks_strategy, st.integers(0, 30), st.integers(0, 30), st.integers(0, 5000), st.integers(0, 90_000))
def test_windows_equal_a_plain_recomputation(blocks: list[tuple[int, list[tuple[int, int, bool]]]], final: int,
                                             removed: int, settle_lag: int, later: int) -> None:
    """Trades in blocks; the first `final` settle (pruned at a chain time up to `settle_lag`
    after the last of them), the last `removed` of the rest leave in a reorg; the windows at a
    later chain time equal the plain recomputation over the trades that survive."""
    trades: list[TradeEvent] = []
    ts = T0
    for n, (gap, items) in enumerate(blocks, start=1):
        ts += gap
        trades += [trade(n, i, ts, eth=e * 10**14, trader=who, is_buy=buy) for i, (e, who, buy) in enumerate(items)]
    nblocks = len(blocks)
    final = min(final, nblocks)
    removed = min(removed, nblocks - final)
    s = state_of(trades)
    if final:
        settle(s, final, INTERVALS)
        settled_at = max(x.ref.block_timestamp for x in trades if x.ref.block_number <= final) + settle_lag
        s.activity.prune(window_start(settled_at, max(PARAMS.windows)))
    gone = {b for b in range(nblocks - removed + 1, nblocks + 1)}
    for x in reversed([x for x in trades if x.ref.block_number in gone]):
        remove_trade(s, replace(x.ref, removed=True), INTERVALS)
    alive = [x for x in trades if x.ref.block_number not in gone]
    t = max([x.ref.block_timestamp for x in trades] + [settled_at if final else 0]) + later
    for w in PARAMS.windows:
        assert got(s, t, w) == plain(alive, t, w)
    m = s.snapshot(t, PARAMS).wire()
    prices = [trade_price(x.eth_amount, x.token_amount) for x in alive]
    if prices:
        top = max(prices)
        assert m["ath_price"] == format_price(top)
        assert m["ath_at"] == str(next(x.ref.block_timestamp for x, p in zip(alive, prices, strict=True) if p == top))
    else:
        assert "ath_price" not in m


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 200), st.lists(st.tuples(st.integers(1, 9), st.integers(1, 8), st.booleans()),
                                                      min_size=1, max_size=3),
                          st.integers(0, 3), st.integers(0, 400)), min_size=1, max_size=40))
def test_windows_kept_as_chain_time_moves_equal_a_plain_recomputation(
        steps: list[tuple[int, list[tuple[int, int, bool]], int, int]]) -> None:
    """Step by step, as the worker runs: a block of trades, a head marker that settles the
    blocks `lag` behind and prunes like the batch folder, and chain time moving on; after every
    step, every window equals the plain recomputation (the kept window parts never drift)."""
    s = TokenState()
    trades: list[TradeEvent] = []
    ts = t = T0
    for n, (gap, items, lag, idle) in enumerate(steps, start=1):
        ts += gap
        new = [trade(n, i, ts, eth=e * 10**14, trader=who, is_buy=buy) for i, (e, who, buy) in enumerate(items)]
        for x in new:
            apply_trade(s, x, INTERVALS)
        trades += new
        t = max(t, ts) + idle
        if n - lag >= 1:
            before = len(s.pending)
            settle(s, n - lag, INTERVALS)
            if len(s.pending) != before:
                s.activity.prune(window_start(t, max(PARAMS.windows)))
        for w in PARAMS.windows:
            assert got(s, t, w) == plain(trades, t, w), (n, w)
