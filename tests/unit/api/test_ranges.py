from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pads_stream.api.errors import BadRequest
from pads_stream.api.ranges import RangePlan, fill, plan_range


@pytest.mark.parametrize("seconds, frm, to, countback, exclusive, strict, plan", [
    # neither from nor countback: the newest max_bars
    (60, None, None, None, False, True, RangePlan(None, None, 1500, 1500)),
    (60, None, 6000, None, False, True, RangePlan(None, 6000, 1500, 1500)),
    # countback wins over from
    (60, 1000, 6000, 300, False, True, RangePlan(None, 6000, 300, 300)),
    (60, 1000, 6000, 300, True, False, RangePlan(None, 5999, 300, 300)),
    # from: rounded up to a bucket start
    (60, 120, 6000, None, False, True, RangePlan(120, 6000, 1500, 1500)),
    (60, 121, 6000, None, False, True, RangePlan(180, 6000, 1500, 1500)),
    (3600, 1, None, None, False, True, RangePlan(3600, None, 1500, 1500)),
    # UDF's `to` is exclusive: a bar starting at `to` is not wanted
    (60, 0, 120, None, True, False, RangePlan(0, 119, 1500, 1500)),
    # UDF cuts a countback above the limit; the library asks again from the oldest bar
    (60, None, 6000, 5000, True, False, RangePlan(None, 5999, 1500, 1500)),
    (60, None, None, 1500, False, True, RangePlan(None, None, 1500, 1500)),
])
def test_plan(seconds: int, frm: int | None, to: int | None, countback: int | None, exclusive: bool, strict: bool,
              plan: RangePlan) -> None:
    assert plan_range(seconds, frm, to, countback, 1500, to_exclusive=exclusive, strict=strict) == plan


@pytest.mark.parametrize("frm, to, countback, strict, param, fragment", [
    (None, None, 1501, True, "countback", "at most 1500 bars"),
    (None, None, 0, True, "countback", "at least 1"),
    (None, None, -3, False, "countback", "at least 1"),
    (7000, 6000, None, True, "from", "after to"),
])
def test_plan_refusals(frm: int | None, to: int | None, countback: int | None, strict: bool, param: str,
                       fragment: str) -> None:
    with pytest.raises(BadRequest) as e:
        plan_range(60, frm, to, countback, 1500, strict=strict)
    assert e.value.param == param and fragment in e.value.message


def c(t: int, close: str, final: bool = True) -> dict[str, Any]:
    return {"t": t, "open": close, "high": close, "low": close, "close": close, "volume_token": "5",
            "volume_eth": "7", "trades": 1, "buys": 1, "sells": 0, "final": final}


def shape(bars: list[dict[str, Any]]) -> list[tuple[int, str, bool]]:
    return [(b["t"], b["close"], bool(b.get("filled"))) for b in bars]


@pytest.mark.parametrize("candles, keep, lo, prev, truncated, expected", [
    # nothing to fill
    ([], 10, None, None, False, []),
    ([c(60, "1")], 10, None, None, False, [(60, "1", False)]),
    # gaps between trades: the previous close, marked filled
    ([c(60, "1"), c(240, "2")], 10, None, None, False,
     [(60, "1", False), (120, "1", True), (180, "1", True), (240, "2", False)]),
    # never before the first trade, never after the last
    ([c(120, "1"), c(180, "2")], 10, 0, None, False, [(120, "1", False), (180, "2", False)]),
    # from before the first candle in range, with an older candle: filled from that candle's close
    ([c(240, "2")], 10, 60, c(0, "0.5"), False, [(60, "0.5", True), (120, "0.5", True), (180, "0.5", True),
                                                 (240, "2", False)]),
    # ... but not below the older candle itself
    ([c(240, "2")], 10, 0, c(120, "0.5"), False, [(180, "0.5", True), (240, "2", False)]),
    # a read cut at its limit: its first candle is not the first of the range, nothing before it
    ([c(240, "2")], 10, 60, c(0, "0.5"), True, [(240, "2", False)]),
    # keep: the newest buckets, filled ones counted
    ([c(60, "1"), c(600, "2")], 3, None, None, False, [(480, "1", True), (540, "1", True), (600, "2", False)]),
    ([c(60, "1"), c(120, "3"), c(180, "2")], 2, None, None, False, [(120, "3", False), (180, "2", False)]),
])
def test_fill_rules(candles: list[dict[str, Any]], keep: int, lo: int | None, prev: dict[str, Any] | None,
                    truncated: bool, expected: list[tuple[int, str, bool]]) -> None:
    assert shape(fill(candles, 60, keep, lo, prev, truncated)) == expected


@pytest.mark.parametrize("candles, keep, lo, prev, hi, nxt, expected", [
    # `hi` inside a gap with a trade after it: filled up to `hi` (its bucket) from the last close
    ([c(60, "1")], 10, 0, None, 240, c(300, "2"), [(60, "1", False), (120, "1", True), (180, "1", True),
                                                   (240, "1", True)]),
    ([c(60, "1")], 10, 0, None, 250, c(300, "2"), [(60, "1", False), (120, "1", True), (180, "1", True),
                                                   (240, "1", True)]),
    # no trade after the range: nothing after the last trade
    ([c(60, "1")], 10, 0, None, 240, None, [(60, "1", False)]),
    # the whole range in a gap: filled from the candle before it
    ([], 10, 120, c(0, "0.5"), 240, c(600, "2"), [(120, "0.5", True), (180, "0.5", True), (240, "0.5", True)]),
    # ... but never before the first trade
    ([], 10, 120, None, 240, c(600, "2"), []),
    # countback (no lower bound): the newest `keep` buckets, the ones up to `hi` first
    ([c(60, "1"), c(120, "2")], 3, None, None, 300, c(360, "3"), [(180, "2", True), (240, "2", True),
                                                                   (300, "2", True)]),
    ([c(60, "1")], 2, 0, None, 600, c(900, "2"), [(540, "1", True), (600, "1", True)]),
])
def test_fill_up_to_the_range_end(candles: list[dict[str, Any]], keep: int, lo: int | None,
                                  prev: dict[str, Any] | None, hi: int, nxt: dict[str, Any] | None,
                                  expected: list[tuple[int, str, bool]]) -> None:
    assert shape(fill(candles, 60, keep, lo, prev, hi=hi, nxt=nxt)) == expected


def test_buckets_up_to_the_range_end_take_the_next_candles_finality() -> None:
    assert [b["final"] for b in fill([c(0, "1")], 60, 10, 0, hi=60, nxt=c(120, "2", final=False))] == [True, False]


def test_filled_bucket_has_zero_volumes_and_the_next_candles_finality() -> None:
    out = fill([c(0, "1.5", final=True), c(180, "2", final=False)], 60, 10)
    gap = out[1]
    assert gap == {"t": 60, "open": "1.5", "high": "1.5", "low": "1.5", "close": "1.5", "volume_token": "0",
                   "volume_eth": "0", "trades": 0, "buys": 0, "sells": 0, "final": False, "filled": True}
    assert [b["final"] for b in fill([c(0, "1"), c(120, "2", final=True)], 60, 10)] == [True, True, True]


def test_a_month_long_gap_costs_only_keep_buckets() -> None:
    out = fill([c(0, "1"), c(60 * 43_200, "2")], 60, 5)
    assert [b["t"] for b in out] == [60 * t for t in range(43_196, 43_201)]


@given(st.lists(st.integers(0, 400), unique=True, max_size=40), st.integers(1, 200))
def test_fill_is_contiguous_and_keeps_every_real_candle_it_reaches(buckets: list[int], keep: int) -> None:
    candles = [c(b * 60, str(b)) for b in sorted(buckets)]
    out = fill(candles, 60, keep)
    ts = [b["t"] for b in out]
    assert len(out) <= keep
    assert ts == list(range(ts[0], ts[0] + 60 * len(ts), 60)) if ts else candles == []
    real = {b["t"]: b for b in candles}
    for b in out:
        if b.get("filled"):
            before = max(t for t in real if t < b["t"])  # there is always a trade before a filled bucket
            assert b["t"] not in real and b["close"] == real[before]["close"] and b["volume_eth"] == "0"
        else:
            assert b is real[b["t"]]
    if candles:
        assert out[-1] is candles[-1]
        assert len(out) == min(keep, (candles[-1]["t"] - candles[0]["t"]) // 60 + 1)
