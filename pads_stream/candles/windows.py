"""Rolling market windows and the all-time high, by chain time (pure).

Chain time T is a partition's latest head-marker or trade block timestamp, never the wall
clock. For a window of W seconds (a whole number of minutes) the window holds the trades of
the last W/60 one-minute buckets, the current one included:

    block_timestamp >= floor(T/60)*60 - W + 60        so a trade of minute m is in it while T < m + W

A token's trades are kept in two parts, like its candles (see `state`): `Activity` holds the
settled (final) trades folded per minute, with each trader's last settled minute and the
settled all-time high; the pending blocks hold the rest, with their traders, so a reorg that
removes a block leaves the windows as if its trades never happened. Settled minutes older
than the largest window are dropped, keeping only the close of the last one (`before`): the
price before the window is all a window needs from outside it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from .fold import Candle, fold_part

if TYPE_CHECKING:
    from .state import PendingBlock


def window_start(t: int, window: int) -> int:
    return t - t % 60 - window + 60


@dataclass(slots=True)
class Minute(Candle):
    """Settled trades of one UTC minute: a one-minute candle, with its table encoding cached."""

    encoded: bytes | None = field(default=None, compare=False, repr=False)


@dataclass(slots=True)
class WindowStats:
    trades: int = 0
    buys: int = 0
    sells: int = 0
    volume_eth: int = 0
    volume_token: int = 0
    traders: int = 0
    high: Decimal | None = None
    low: Decimal | None = None
    open: Decimal | None = None  # the price before the window, else its first trade's


@dataclass(slots=True)
class Activity:
    minutes: list[Minute] = field(default_factory=list)  # ascending
    before: Decimal | None = None  # close of the last settled trade older than every kept minute
    traders: dict[str, int] = field(default_factory=dict)  # trader -> minute of its last settled trade
    ath: Decimal | None = None  # highest settled trade price
    ath_at: int | None = None  # block timestamp of the first settled trade at that price
    # Derived, never stored: the settled part of each window by its start, and how many traders
    # have their last settled trade in each minute. A hot token is shown once per batch and
    # settled once per block: each window's settled part is summed once per block, not per batch.
    _settled: dict[int, tuple[WindowStats, Decimal | None, Decimal | None]] = field(
        default_factory=dict, compare=False, repr=False)
    _last_of: dict[int, int] | None = field(default=None, compare=False, repr=False)

    def settle(self, block: PendingBlock) -> None:
        part, minute = block.part, block.ts - block.ts % 60
        self._settled.clear()
        last = self.minutes[-1] if self.minutes else None
        if last is not None and last.t == minute:
            fold_part(last, minute, part)
            last.encoded = None
        else:
            self.minutes.append(Minute(minute, part.open, part.high, part.low, part.close, part.volume_token,
                                       part.volume_eth, part.trades, part.buys, part.sells))
        last_of = self._last_of
        for trader in block.traders:
            if last_of is not None:
                was = self.traders.get(trader)
                if was != minute:
                    if was is not None:
                        last_of[was] -= 1
                    last_of[minute] = last_of.get(minute, 0) + 1
            self.traders[trader] = minute
        if self.ath is None or part.high > self.ath:
            self.ath, self.ath_at = part.high, block.ts

    def prune(self, keep_from: int) -> None:
        """Forget minutes before `keep_from` (no window reaches them any more)."""
        n = bisect_left(self.minutes, keep_from, key=lambda m: m.t)
        if n:
            self.before = self.minutes[n - 1].close
            del self.minutes[:n]
            self.traders = {a: m for a, m in self.traders.items() if m >= keep_from}
            self._settled.clear()
            self._last_of = None

    def settled_part(self, start: int) -> tuple[WindowStats, Decimal | None, Decimal | None]:
        """(the settled trades from `start` on, the close before `start`, the first open from it)."""
        got = self._settled.get(start)
        if got is None:
            minutes = self.minutes
            i = bisect_left(minutes, start, key=lambda m: m.t)
            st = WindowStats()
            for m in minutes[i:]:
                _add(st, m.high, m.low, m.trades, m.buys, m.sells, m.volume_eth, m.volume_token)
            if self._last_of is None:
                last_of: dict[int, int] = {}
                for minute in self.traders.values():
                    last_of[minute] = last_of.get(minute, 0) + 1
                self._last_of = last_of
            st.traders = sum(n for minute, n in self._last_of.items() if minute >= start)
            got = (st, minutes[i - 1].close if i else self.before, minutes[i].open if i < len(minutes) else None)
            self._settled[start] = got
        return got


def window_stats(activity: Activity, pending: Sequence[PendingBlock], t: int, window: int) -> WindowStats:
    """The window ending at chain time `t`: settled minutes, then pending blocks, in chain order."""
    return windows_stats(activity, pending, t, (window,))[window]


def windows_stats(activity: Activity, pending: Sequence[PendingBlock], t: int,
                  windows: Sequence[int]) -> dict[int, WindowStats]:
    """Every window at chain time `t`, the pending blocks visited once for all of them."""
    blocks = [(pb.part.t - pb.part.t % 60, pb) for pb in pending]
    # Each pending trader's latest minute: it counts in a window that reaches that minute,
    # unless its last settled trade is in the window too (counted there already).
    latest: dict[str, int] = {}
    for minute, pb in blocks:
        for a in pb.traders:
            latest[a] = minute
    known = activity.traders
    # Pending blocks are the chain's last minute or so: usually inside every window, summed once.
    every = WindowStats()
    for _, pb in blocks:
        part = pb.part
        _add(every, part.high, part.low, part.trades, part.buys, part.sells, part.volume_eth, part.volume_token)
    out: dict[int, WindowStats] = {}
    for w in windows:
        start = t - t % 60 - w + 60
        settled, before, first = activity.settled_part(start)
        st = WindowStats(settled.trades, settled.buys, settled.sells, settled.volume_eth, settled.volume_token,
                         settled.traders, settled.high, settled.low)
        if blocks and blocks[0][0] >= start:
            if first is None:
                first = blocks[0][1].part.open
            _add(st, every.high, every.low, every.trades, every.buys, every.sells,  # type: ignore[arg-type]
                 every.volume_eth, every.volume_token)
        else:
            for minute, pb in blocks:
                part = pb.part
                if minute < start:
                    before = part.close
                    continue
                if first is None:
                    first = part.open
                _add(st, part.high, part.low, part.trades, part.buys, part.sells, part.volume_eth,
                     part.volume_token)
        if latest:
            st.traders += sum(1 for a, m in latest.items() if m >= start and known.get(a, -1) < start)
        st.open = before if before is not None else first
        out[w] = st
    return out


def _add(st: WindowStats, high: Decimal, low: Decimal, trades: int, buys: int, sells: int, volume_eth: int,
         volume_token: int) -> None:
    st.trades += trades
    st.buys += buys
    st.sells += sells
    st.volume_eth += volume_eth
    st.volume_token += volume_token
    if st.high is None or high > st.high:
        st.high = high
    if st.low is None or low < st.low:
        st.low = low


def next_change(activity: Activity, pending: Sequence[PendingBlock], t: int, windows: Sequence[int]) -> int | None:
    """The first chain time after `t` at which some window of this token loses a trade: when
    the partition's time reaches it, the token's market must be shown again."""
    minutes = activity.minutes
    best: int | None = None
    for w in windows:
        start = window_start(t, w)
        i = bisect_left(minutes, start, key=lambda m: m.t)
        oldest = minutes[i].t if i < len(minutes) else None
        if oldest is None:
            oldest = next((pb.ts - pb.ts % 60 for pb in pending if pb.ts - pb.ts % 60 >= start), None)
        if oldest is not None and (best is None or oldest + w < best):
            best = oldest + w
    return best


def all_time_high(activity: Activity, pending: Sequence[PendingBlock]) -> tuple[Decimal | None, int | None]:
    ath, at = activity.ath, activity.ath_at
    for pb in pending:
        if ath is None or pb.part.high > ath:
            ath, at = pb.part.high, pb.ts
    return ath, at
