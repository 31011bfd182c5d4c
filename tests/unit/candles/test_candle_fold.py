"""Candle folding against a deliberately naive reference, redelivery, and state encoding."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pads_stream.candles.codec import decode_state, encode_state
from pads_stream.candles.fold import Candle, fold, fold_part
from pads_stream.candles.intervals import parse_intervals
from pads_stream.candles.market import Market, MarketParams, TokenInfo, TradeTotals
from pads_stream.candles.price import format_price
from pads_stream.candles.state import (
    TokenState,
    apply_curve_created,
    apply_graduated,
    apply_trade,
)
from pads_stream.decode.events import CurveCreatedEvent, GraduatedEvent, LogRef, TradeEvent
from pads_stream.errors import OrderError

INTERVALS = parse_intervals("1m,5m,15m,1h,4h,1d")
TOKEN = "0x" + "ab" * 20
TRADER = "0x" + "cd" * 20
CURVE = "0x" + "ef" * 20
T2024 = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp())
PLAIN = re.compile(r"^(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$")


# --------------------------------------------------------------------------- reference

def ref_price(eth: int, tok: int) -> str:
    """Fraction -> 30 significant digits, round half to even -> plain decimal string.

    Pure integer arithmetic: shares nothing with the decimal module used by the source."""
    q = Fraction(eth, tok)
    if q == 0:
        return "0"
    k = len(str(q.numerator)) - len(str(q.denominator))  # floor(log10(q)) is k or k - 1
    while Fraction(10) ** k > q:
        k -= 1
    while Fraction(10) ** (k + 1) <= q:
        k += 1
    e = k - 29  # q / 10**e lies in [10**29, 10**30)
    n = round(q / Fraction(10) ** e)  # Fraction.__round__ rounds half to even
    if e >= 0:
        return str(n) + "0" * e
    digits = str(n).rjust(-e + 1, "0")
    whole, frac = digits[:e], digits[e:].rstrip("0")
    return whole + ("." + frac if frac else "")


def reference_candles(trades: list[TradeEvent], intervals: tuple[int, ...]) -> dict[tuple[int, int], dict[str, Any]]:
    groups: dict[tuple[int, int], list[TradeEvent]] = defaultdict(list)
    for tr in trades:
        ts = tr.ref.block_timestamp
        for seconds in intervals:
            groups[(seconds, ts - ts % seconds)].append(tr)
    out = {}
    for (seconds, t), group in groups.items():
        prices = [Fraction(tr.eth_amount, tr.token_amount) for tr in group]
        hi = max(range(len(group)), key=lambda i: prices[i])
        lo = min(range(len(group)), key=lambda i: prices[i])
        out[(seconds, t)] = {
            "t": t,
            "open": ref_price(group[0].eth_amount, group[0].token_amount),
            "high": ref_price(group[hi].eth_amount, group[hi].token_amount),
            "low": ref_price(group[lo].eth_amount, group[lo].token_amount),
            "close": ref_price(group[-1].eth_amount, group[-1].token_amount),
            "volume_token": str(sum(tr.token_amount for tr in group)),
            "volume_eth": str(sum(tr.eth_amount for tr in group)),
            "trades": len(group),
            "buys": sum(1 for tr in group if tr.is_buy),
            "sells": sum(1 for tr in group if not tr.is_buy),
        }
    return out


def make_ref(block: int, log_index: int, ts: int, chain_id: int = 1) -> LogRef:
    return LogRef(chain_id, CURVE, block, "0x" + f"{block:064x}", ts, "0x" + f"{block * 1000 + log_index:064x}",
                  log_index, False)


def make_trade(block: int, log_index: int, ts: int, is_buy: bool = True, tok: int = 10**18,
               eth: int = 10**15) -> TradeEvent:
    return TradeEvent(TOKEN, TRADER, is_buy, tok, eth, 30 * 10**18, 10**27, make_ref(block, log_index, ts))


@pytest.mark.parametrize(
    ("eth", "tok", "expected"),
    [(1, 3, "0." + "3" * 30), (100, 1, "100"), (28, 10**9, "0.000000028"), (0, 5, "0"),
     (10**40, 1, "1" + "0" * 40), (1, 10**30, "0." + "0" * 29 + "1"), (10**30 + 5, 10**31, "0.1"),
     (10**30 + 15, 10**31, "0.1" + "0" * 28 + "2"), (10**31 - 1, 1, "1" + "0" * 31)],
)
def test_reference_price_itself(eth: int, tok: int, expected: str) -> None:
    """The oracle must be right before it can judge anything."""
    assert ref_price(eth, tok) == expected


# --------------------------------------------------------------------------- strategies

STEP = st.one_of(
    st.sampled_from([0, 0, 1, 59, 60, 61, 240, 299, 300, 3599, 3600, 14399, 14400, 86399, 86400]),
    st.integers(0, 200_000),
)


@st.composite
def trade_sequences(draw: st.DrawFn) -> list[TradeEvent]:
    n = draw(st.integers(1, 40))
    block = draw(st.integers(0, 10**7))
    ts = T2024 + draw(st.integers(0, 86400 * 30))
    log_index = draw(st.integers(0, 5))
    trades = []
    for i in range(n):
        if i and draw(st.booleans()):  # another log of the same block
            log_index += draw(st.integers(1, 3))
        else:
            if i:
                block += draw(st.integers(1, 50))
                ts += draw(STEP)
            log_index = draw(st.integers(0, 5))
        trades.append(TradeEvent(
            TOKEN, TRADER, draw(st.booleans()),
            draw(st.integers(1, 10**27)), draw(st.integers(0, 10**22)),
            draw(st.integers(0, 10**24)), draw(st.integers(0, 10**27)),
            make_ref(block, log_index, ts),
        ))
    return trades


FOLD_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- properties

@FOLD_SETTINGS
@given(trade_sequences())
def test_fold_matches_naive_reference(trades: list[TradeEvent]) -> None:
    state = TokenState()
    emitted: dict[tuple[int, int], dict[str, Any]] = {}
    for tr in trades:
        touched = apply_trade(state, tr, INTERVALS)
        assert touched is not None
        assert [s for s, _, _ in touched] == list(INTERVALS)
        assert not any(final for _, _, final in touched)
        for seconds, candle, _ in touched:
            emitted[(seconds, candle.t)] = candle.to_public()  # serialize now: candles mutate in place
    assert emitted == reference_candles(trades, INTERVALS)
    for public in emitted.values():
        for field in ("open", "high", "low", "close"):
            assert PLAIN.match(public[field]), public[field]

    last = trades[-1]
    assert state.cursor == (last.ref.block_number, last.ref.log_index)
    assert state.market["price"] == ref_price(last.eth_amount, last.token_amount)
    assert state.market["trades"] == str(len(trades))
    assert state.market["volume_eth"] == str(sum(t.eth_amount for t in trades))
    assert state.market["volume_token"] == str(sum(t.token_amount for t in trades))
    assert state.market["last_trade_at"] == str(last.ref.block_timestamp)
    assert state.market["virtual_eth_reserves"] == str(last.virtual_eth)
    # the open candle of every interval is the one holding the last trade
    assert {s: c.t for s, c in state.candles.items()} == {
        s: last.ref.block_timestamp - last.ref.block_timestamp % s for s in INTERVALS}


@FOLD_SETTINGS
@given(trade_sequences())
def test_redelivered_prefix_is_ignored(trades: list[TradeEvent]) -> None:
    state = TokenState()
    for i, tr in enumerate(trades):
        assert apply_trade(state, tr, INTERVALS) is not None
        before = encode_state(state)
        for dup in trades[: i + 1]:
            assert apply_trade(state, dup, INTERVALS) is None
        assert encode_state(state) == before
    # a fresh run without duplicates ends in exactly the same bytes
    clean = TokenState()
    for tr in trades:
        apply_trade(clean, tr, INTERVALS)
    assert encode_state(clean) == encode_state(state)


@FOLD_SETTINGS
@given(trade_sequences())
def test_state_round_trips_through_bytes_between_every_trade(trades: list[TradeEvent]) -> None:
    """The table stores bytes: restoring after every trade must not change any outcome."""
    live = TokenState()
    payload = encode_state(TokenState())
    for tr in trades:
        restored = decode_state(payload)
        assert encode_state(restored) == payload
        got = apply_trade(restored, tr, INTERVALS)
        want = apply_trade(live, tr, INTERVALS)
        assert got is not None and want is not None
        assert [(s, c.to_public(), f) for s, c, f in got] == [(s, c.to_public(), f) for s, c, f in want]
        payload = encode_state(restored)
        assert payload == encode_state(live)
        assert decode_state(payload) == live


def test_pending_trades_are_stored_per_block_as_a_plain_json_list() -> None:
    """Cached per-block encodings are spliced in: the bytes must be what a list would give."""
    state = TokenState()
    trades = [make_trade(10, 0, T2024), make_trade(10, 3, T2024, is_buy=False, tok=3 * 10**18),
              make_trade(11, 1, T2024 + 1, tok=10**18 + 1)]
    for tr in trades:
        apply_trade(state, tr, INTERVALS)
    encode_state(state)  # caches block 10's encoding; block 11 then changes
    apply_trade(state, make_trade(11, 2, T2024 + 1, eth=7), INTERVALS)
    stored = orjson.loads(encode_state(state))["p"]
    assert stored == [[pb.block, pb.block_hash, pb.indexes,
                       [pb.ts, *(format_price(p) for p in (pb.part.open, pb.part.high, pb.part.low, pb.part.close)),
                        str(pb.part.volume_token), str(pb.part.volume_eth), pb.part.trades, pb.part.buys,
                        pb.part.sells],
                       str(pb.virtual_eth), str(pb.virtual_token), pb.traders] for pb in state.pending]
    assert [(pb.block, pb.indexes, pb.part.trades, pb.part.buys) for pb in state.pending] == \
        [(10, [0, 3], 2, 1), (11, [1, 2], 2, 2)]
    assert encode_state(state) == encode_state(decode_state(encode_state(state)))


@pytest.mark.parametrize("extra", [[], ["0x" + "ab" * 20, "0x" + "cd" * 32]])
def test_values_written_with_one_entry_per_trade_still_decode(extra: list[str]) -> None:
    """Before 2026-11-25 each pending trade had its own entry (with trader and tx hash before
    2026-11-20): they fold into the blocks a state built today holds."""
    state = TokenState()
    trades = [make_trade(10, 0, T2024), make_trade(10, 3, T2024, is_buy=False, eth=3, tok=7),
              make_trade(11, 1, T2024 + 61, eth=5)]
    for tr in trades:
        apply_trade(state, tr, INTERVALS)
    old = orjson.loads(encode_state(state))
    old["p"] = [[t.ref.block_number, t.ref.log_index, t.ref.block_hash, t.ref.block_timestamp, t.is_buy,
                 str(t.token_amount), str(t.eth_amount), str(t.virtual_eth), str(t.virtual_token), *extra]
                for t in trades]
    del old["r"]
    for pb in state.pending:  # the trader, where such an entry had one
        pb.traders, pb.encoded = [extra[0]] * len(pb.indexes) if extra else [], None
    assert encode_state(decode_state(orjson.dumps(old))) == encode_state(state)


TRADE = st.tuples(st.integers(0, 10**24), st.integers(1, 10**27), st.booleans())  # eth, tokens, is_buy


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(TRADE, min_size=1, max_size=5), min_size=1, max_size=6), st.booleans())
def test_folding_parts_equals_folding_their_trades(parts: list[list[tuple[int, int, bool]]], settled: bool) -> None:
    """A pending block's trades folded together, then into a candle, give that candle as if
    each trade were folded in order; the part itself is never changed or kept."""
    from pads_stream.candles.price import trade_price

    start = Candle(60, Decimal(3), Decimal(5), Decimal(1), Decimal(2), 7, 11, 2, 1, 1) if settled else None
    one_by_one, by_part = (start.copy() if start else None), (start.copy() if start else None)
    for trades in parts:
        part: Candle | None = None
        for eth, tok, buy in trades:
            price = trade_price(eth, tok)
            one_by_one = fold(one_by_one, 60, price, buy, tok, eth)
            part = fold(part, 999, price, buy, tok, eth)  # a part's t is its block timestamp
        assert part is not None
        kept = part.copy()
        by_part = fold_part(by_part, 60, part)
        assert part == kept and by_part is not part
    assert by_part == one_by_one


# --------------------------------------------------------------------------- examples

def test_bucket_edges_open_new_candles() -> None:
    state = TokenState()
    base = T2024 + 4 * 3600 - 60  # 03:59:00 UTC; trades at 03:59:59, 04:00:00, 04:00:01
    prices = [(59, 1, 2), (60, 1, 4), (61, 1, 1)]  # (ts offset, eth, tok)
    out = [apply_trade(state, make_trade(100 + i, 0, base + off, eth=e, tok=t), INTERVALS)
           for i, (off, e, t) in enumerate(prices)]
    assert all(o is not None for o in out)
    m1 = state.candles[60]
    assert m1.t == base + 60 and m1.to_public()["open"] == "0.25" and m1.to_public()["high"] == "1"
    assert m1.trades == 2
    assert out[0] is not None and {s: c for s, c, _ in out[0]}[60].t == base  # the 03:59 candle was emitted first
    h4 = state.candles[14400]
    assert h4.t == T2024 + 4 * 3600 and h4.trades == 2
    assert {s: c for s, c, _ in out[0]}[14400].t == T2024
    d1 = state.candles[86400]
    assert d1.t == T2024 and d1.trades == 3
    assert d1.to_public() == {
        "t": T2024, "open": "0.5", "high": "1", "low": "0.25", "close": "1",
        "volume_token": "7", "volume_eth": "3", "trades": 3, "buys": 3, "sells": 0}


def test_trade_behind_open_candle_raises_and_changes_nothing() -> None:
    state = TokenState()
    apply_trade(state, make_trade(10, 0, T2024 + 120), INTERVALS)
    before = encode_state(state)
    with pytest.raises(OrderError, match="older than open 60s candle"):
        apply_trade(state, make_trade(11, 0, T2024 + 119), INTERVALS)
    assert encode_state(state) == before


def test_earlier_timestamp_in_same_bucket_is_folded() -> None:
    state = TokenState()
    apply_trade(state, make_trade(10, 0, T2024 + 30, eth=1, tok=1), INTERVALS)
    out = apply_trade(state, make_trade(11, 0, T2024 + 10, eth=2, tok=1, is_buy=False), INTERVALS)
    assert out is not None
    c = state.candles[60].to_public()
    assert (c["open"], c["close"], c["high"], c["trades"], c["buys"], c["sells"]) == ("1", "2", "2", 2, 1, 1)


def test_same_block_lower_log_index_is_a_duplicate() -> None:
    state = TokenState()
    apply_trade(state, make_trade(10, 5, T2024), INTERVALS)
    assert apply_trade(state, make_trade(10, 4, T2024), INTERVALS) is None
    assert apply_trade(state, make_trade(9, 99, T2024), INTERVALS) is None
    assert apply_trade(state, make_trade(10, 6, T2024), INTERVALS) is not None


def test_fold_new_bucket_starts_fresh_candle() -> None:

    c = fold(None, 60, Decimal(2), True, 5, 10)
    assert (c.t, c.open, c.trades, c.buys, c.sells) == (60, 2, 1, 1, 0)
    same = fold(c, 60, Decimal(3), False, 1, 3)
    assert same is c and (c.high, c.close, c.trades, c.sells) == (3, 3, 2, 1)
    nxt = fold(c, 120, Decimal(1), False, 1, 1)
    assert nxt is not c and (nxt.t, nxt.open, nxt.volume_token, nxt.sells) == (120, 1, 1, 1)


def test_candle_public_round_trip() -> None:

    c = Candle(60, Decimal("0.1"), Decimal("2"), Decimal("0.05"), Decimal("1"), 2**100, 2**70, 3, 2, 1)
    pub = c.to_public()
    assert pub["volume_token"] == str(2**100)
    assert Candle.from_public(pub) == c


def test_candle_copy_is_equal_and_independent() -> None:
    from dataclasses import fields

    c = Candle(60, Decimal("0.1"), Decimal("2"), Decimal("0.05"), Decimal("1"), 2**100, 2**70, 3, 2, 1)
    d = c.copy()
    assert d == c and d is not c
    assert [f.name for f in fields(Candle)] == ["t", "open", "high", "low", "close", "volume_token",
                                                "volume_eth", "trades", "buys", "sells"]  # all copied
    d.add(Decimal("9"), True, 1, 1)
    assert (c.high, c.trades, c.buys) == (Decimal("2"), 3, 2)


def test_curve_created_and_graduated() -> None:
    state = TokenState()
    ev = CurveCreatedEvent(TOKEN, CURVE, TRADER, "Pepe \U0001f438", "PEPE", make_ref(5, 0, T2024))
    assert apply_curve_created(state, ev) is True
    assert apply_curve_created(state, ev) is False
    assert state.market["name"] == "Pepe \U0001f438" and state.market["created_block"] == "5"
    apply_trade(state, make_trade(6, 0, T2024 + 1), INTERVALS)
    grad = GraduatedEvent(TOKEN, 10**20, 10**26, make_ref(6, 1, T2024 + 1))
    assert apply_graduated(state, grad) is True
    assert apply_graduated(state, grad) is False
    assert apply_graduated(state, replace(grad, ref=make_ref(6, 0, T2024 + 1))) is False
    assert state.market["graduated"] == "1" and state.market["graduation_eth_reserves"] == str(10**20)
    assert state.cursor == (6, 1)
    payload = encode_state(state)
    assert encode_state(decode_state(payload)) == payload


def test_a_removed_curve_created_is_undone_and_another_removal_changes_nothing() -> None:
    state = TokenState()
    ev = CurveCreatedEvent(TOKEN, CURVE, TRADER, "Pepe", "PEPE", make_ref(5, 0, T2024))
    apply_curve_created(state, ev)
    other = replace(ev, ref=replace(make_ref(7, 0, T2024 + 2), removed=True))
    assert apply_curve_created(state, other) is False  # not the creation it holds
    assert apply_curve_created(state, replace(ev, ref=replace(ev.ref, removed=True))) is True
    assert state.market == {} and state.info == TokenInfo()
    assert apply_curve_created(state, replace(ev, ref=replace(ev.ref, removed=True))) is False  # twice: once
    again = replace(ev, ref=make_ref(6, 0, T2024 + 1))  # the new branch creates it a block later
    assert apply_curve_created(state, again) is True and state.market["created_block"] == "6"
    assert Market(TokenInfo(), TradeTotals(), params=MarketParams()).wire() == {}  # nothing to show, no derived


@pytest.mark.parametrize("payload", [None, b""])
def test_decode_empty_state(payload: bytes | None) -> None:
    assert decode_state(payload) == TokenState()
    assert decode_state(encode_state(TokenState())) == TokenState()
