"""Which candles a request wants, and the empty buckets `fill=true` adds (pure).

A plan reads the newest `limit` candles with bucket start in [lo, hi] (None: unbounded),
newest first, in one Redis call; `prev` is the newest candle before `lo`, read in the same
call, which gives UDF's `nextTime` and the close that fills the buckets before the first one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import BadRequest


@dataclass(frozen=True, slots=True)
class RangePlan:
    lo: int | None  # oldest bucket start wanted, inclusive; None: no lower bound
    hi: int | None  # newest bucket start wanted, inclusive; None: no upper bound
    limit: int  # most candles to read, the newest of the range
    keep: int  # most bars to answer (with fill, filled buckets count)


def plan_range(seconds: int, frm: int | None, to: int | None, countback: int | None, max_bars: int, *,
               to_exclusive: bool = False, strict: bool = True) -> RangePlan:
    """`countback` (bars wanted up to `to`) takes priority over `from`. Without either, the
    newest `max_bars`. `strict` refuses a countback above `max_bars` (REST); otherwise it is
    cut to it (UDF, whose library asks again from the oldest bar it got)."""
    hi = to
    if to is not None and to_exclusive:
        hi = to - 1  # bucket starts are whole seconds: t < to  <=>  t <= to - 1
    if countback is not None:
        if countback < 1:
            raise BadRequest(f"countback: must be at least 1, got {countback}", "countback")
        if countback > max_bars:
            if strict:
                raise BadRequest(f"countback: at most {max_bars} bars (API_MAX_BARS), got {countback}", "countback")
            countback = max_bars
        return RangePlan(None, hi, countback, countback)
    if frm is not None:
        if hi is not None and frm > hi:
            raise BadRequest(f"from: {frm} is after to ({to})", "from")
        lo = -(-frm // seconds) * seconds  # the first bucket starting at or after `from`
        return RangePlan(lo, hi, max_bars, max_bars)
    return RangePlan(None, hi, max_bars, max_bars)


def empty_bucket(t: int, close: str, final: bool) -> dict[str, Any]:
    return {"t": t, "open": close, "high": close, "low": close, "close": close, "volume_token": "0",
            "volume_eth": "0", "trades": 0, "buys": 0, "sells": 0, "final": final, "filled": True}


def fill(candles: list[dict[str, Any]], seconds: int, keep: int, lo: int | None = None,
         prev: dict[str, Any] | None = None, truncated: bool = False, hi: int | None = None,
         nxt: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Candles (oldest first) with the empty buckets between them, the newest `keep` of them.

    An empty bucket repeats the previous candle's close with volumes 0 and `"filled": true`;
    it is final when the next real candle is (no reorg can put a trade before a final one).
    Buckets from `lo` to the first candle are filled only from `prev`, the candle before the
    range, and only when the read was not `truncated`: there is never a bar before the first
    trade. Buckets from the last candle (or `prev`) up to `hi` are filled only when `nxt`, the
    candle after the range, exists: nothing is added after the last trade. Built newest first,
    so a long gap costs at most `keep` buckets.
    """
    out: list[dict[str, Any]] = []
    newer: dict[str, Any] | None = None
    base = candles[-1] if candles else prev
    if hi is not None and nxt is not None and base is not None:
        # the range ends inside a gap between trades: its buckets up to `hi` are in that gap
        t = hi - hi % seconds
        while t > base["t"] and (lo is None or t >= lo) and len(out) < keep:
            out.append(empty_bucket(t, base["close"], nxt["final"]))
            t -= seconds
    for c in reversed(candles):
        if newer is not None:
            t = newer["t"] - seconds
            while t > c["t"] and len(out) < keep:
                out.append(empty_bucket(t, c["close"], newer["final"]))
                t -= seconds
        if len(out) >= keep:
            break
        out.append(c)
        newer = c
    else:
        if newer is not None and prev is not None and lo is not None and not truncated:
            t = newer["t"] - seconds
            while t >= lo and t > prev["t"] and len(out) < keep:
                out.append(empty_bucket(t, prev["close"], newer["final"]))
                t -= seconds
    out.reverse()
    return out
