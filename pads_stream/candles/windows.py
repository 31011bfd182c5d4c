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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import repeat
from typing import TYPE_CHECKING

from .fold import Candle, fold_part

if TYPE_CHECKING:
    from .state import PendingBlock


NEVER = -(1 << 62)  # the last settled minute of a trader with none: before every window


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
class _Slide:
    """One window's settled part, kept as chain time moves (derived, never stored): the sums
    over the settled minutes from `start` on (absolute indexes from `first`), and monotonic
    deques of the minutes whose high (low) no later minute beats. Moving `start` forward or
    settling a block costs O(1) amortized, not O(minutes in the window): 1,440 for 24 hours."""

    start: int
    first: int
    st: WindowStats
    # Lists, not deques: an empty deque takes 624 bytes, and a token has eight of these.
    highs: list[int]
    lows: list[int]


@dataclass(slots=True)
class Activity:
    minutes: list[Minute] = field(default_factory=list)  # ascending
    before: Decimal | None = None  # close of the last settled trade older than every kept minute
    traders: dict[str, int] = field(default_factory=dict)  # trader -> minute of its last settled trade
    ath: Decimal | None = None  # highest settled trade price
    ath_at: int | None = None  # block timestamp of the first settled trade at that price
    # Derived, never stored: each window's settled part (by window), how many traders have
    # their last settled trade in each minute, and how many minutes were pruned (absolute
    # minute indexes stay valid across a prune).
    _slides: dict[int, _Slide] = field(default_factory=dict, compare=False, repr=False)
    _last_of: dict[int, int] | None = field(default=None, compare=False, repr=False)
    _pruned: int = field(default=0, compare=False, repr=False)

    def settle(self, block: PendingBlock) -> None:
        part, minute = block.part, block.ts - block.ts % 60
        minutes = self.minutes
        last = minutes[-1] if minutes else None
        if last is not None and last.t == minute:
            fold_part(last, minute, part)
            last.encoded = None
        else:
            last = Minute(minute, part.open, part.high, part.low, part.close, part.volume_token,
                          part.volume_eth, part.trades, part.buys, part.sells)
            minutes.append(last)
        idx = self._pruned + len(minutes) - 1
        slides = []
        for sl in self._slides.values():
            if minute >= sl.start:
                slides.append(sl)
            elif sl.first <= idx:  # settled late, before the window: past its first minute
                sl.first = idx + 1
        if slides:
            at, base, high, low = self.minutes, self._pruned, last.high, last.low
            for sl in slides:  # `_add_sums` and `_push`, inlined: this runs per settled block and window
                st = sl.st
                st.trades += part.trades
                st.buys += part.buys
                st.sells += part.sells
                st.volume_eth += part.volume_eth
                st.volume_token += part.volume_token
                q = sl.highs
                if q and q[-1] == idx:
                    q.pop()
                while q and at[q[-1] - base].high <= high:
                    q.pop()
                q.append(idx)
                q = sl.lows
                if q and q[-1] == idx:
                    q.pop()
                while q and at[q[-1] - base].low >= low:
                    q.pop()
                q.append(idx)
        last_of = self._last_of
        for trader in block.traders:
            was = self.traders.get(trader)
            if was == minute:
                continue
            if last_of is not None:
                if was is not None:
                    last_of[was] -= 1
                last_of[minute] = last_of.get(minute, 0) + 1
            for sl in slides:
                if was is None or was < sl.start:
                    sl.st.traders += 1
            self.traders[trader] = minute
        if self.ath is None or part.high > self.ath:
            self.ath, self.ath_at = part.high, block.ts

    def forget_derived(self) -> None:
        """Drop what is kept only to go faster (rebuilt when next needed)."""
        self._slides = {}
        self._last_of = None

    def _at(self, i: int) -> Minute:
        return self.minutes[i - self._pruned]

    def prune(self, keep_from: int) -> None:
        """Forget minutes before `keep_from` (no window reaches them any more)."""
        if not self.minutes or self.minutes[0].t >= keep_from:  # the usual case, on every settle
            return
        n = bisect_left(self.minutes, keep_from, key=lambda m: m.t)
        if n:
            self.before = self.minutes[n - 1].close
            del self.minutes[:n]
            self._pruned += n
            self.traders = {a: m for a, m in self.traders.items() if m >= keep_from}
            self._last_of = None
            self._slides = {w: sl for w, sl in self._slides.items() if sl.start >= keep_from}

    def settled_part(self, start: int, window: int = 0) -> tuple[WindowStats, Decimal | None, Decimal | None]:
        """(the settled trades from `start` on, the close before `start`, the first open from
        it); `window` names the slide kept for the next call, whose `start` should not be earlier.
        The stats are the slide's own: read them, never change them."""
        sl = self._slides.get(window)
        if sl is None or start < sl.start:
            sl = self._slides[window] = self._slide(start)
        elif start > sl.start:
            self._advance(sl, start)
        st = sl.st
        if sl.highs:
            st.high, st.low = self._at(sl.highs[0]).high, self._at(sl.lows[0]).low
        else:
            st.high = st.low = None
        i, end = sl.first - self._pruned, len(self.minutes)
        return st, self.minutes[i - 1].close if i else self.before, self.minutes[i].open if i < end else None

    def _counts(self) -> dict[int, int]:
        if self._last_of is None:
            last_of: dict[int, int] = {}
            for minute in self.traders.values():
                last_of[minute] = last_of.get(minute, 0) + 1
            self._last_of = last_of
        return self._last_of

    def _slide(self, start: int) -> _Slide:
        i = bisect_left(self.minutes, start, key=lambda m: m.t)
        sl = _Slide(start, self._pruned + i, WindowStats(), [], [])
        for k in range(i, len(self.minutes)):
            m, idx = self.minutes[k], self._pruned + k
            _add_sums(sl.st, m.trades, m.buys, m.sells, m.volume_eth, m.volume_token)
            _push(sl.highs, idx, lambda j, h=m.high: self._at(j).high <= h)  # type: ignore[misc]
            _push(sl.lows, idx, lambda j, lo=m.low: self._at(j).low >= lo)  # type: ignore[misc]
        sl.st.traders = sum(n for minute, n in self._counts().items() if minute >= start)
        return sl

    def _advance(self, sl: _Slide, start: int) -> None:
        last_of = self._counts()
        end = self._pruned + len(self.minutes)
        st = sl.st
        while sl.first < end:
            m = self._at(sl.first)
            if m.t >= start:
                break
            st.trades -= m.trades
            st.buys -= m.buys
            st.sells -= m.sells
            st.volume_eth -= m.volume_eth
            st.volume_token -= m.volume_token
            st.traders -= last_of.get(m.t, 0)
            sl.first += 1
        for q in (sl.highs, sl.lows):
            n = bisect_left(q, sl.first)  # ascending minute indexes
            if n:
                del q[:n]
        sl.start = start


def _add_sums(st: WindowStats, trades: int, buys: int, sells: int, volume_eth: int, volume_token: int) -> None:
    st.trades += trades
    st.buys += buys
    st.sells += sells
    st.volume_eth += volume_eth
    st.volume_token += volume_token


def _push(q: list[int], idx: int, beaten: Callable[[int], bool]) -> None:
    """Minute `idx` (the newest, possibly already in `q` with a lower high) into a monotonic
    queue: the minutes it beats can never be the window's extreme again."""
    if q and q[-1] == idx:
        q.pop()
    while q and beaten(q[-1]):
        q.pop()
    q.append(idx)


def window_stats(activity: Activity, pending: Sequence[PendingBlock], t: int, window: int) -> WindowStats:
    """The window ending at chain time `t`: settled minutes, then pending blocks, in chain order."""
    return windows_stats(activity, pending, t, (window,))[window]


def windows_stats(activity: Activity, pending: Sequence[PendingBlock], t: int,
                  windows: Sequence[int]) -> dict[int, WindowStats]:
    """Every window at chain time `t`, the pending blocks visited once for all of them."""
    every = WindowStats()  # pending blocks are the chain's last minute or so: summed once
    for pb in pending:
        part = pb.part
        _add(every, part.high, part.low, part.trades, part.buys, part.sells, part.volume_eth, part.volume_token)
    oldest = pending[0].part.t - pending[0].part.t % 60 if pending else None
    known = activity.traders
    # A window that reaches the oldest pending minute holds every pending trader: those whose
    # last settled minute is before its start count, found by bisection. Sets and maps, not a
    # loop per trade: a hot token keeps thousands of pending trades.
    pending_traders = set().union(*[pb.traders for pb in pending])
    settled_minutes = sorted(map(known.get, pending_traders, repeat(NEVER, len(pending_traders))))
    latest: dict[str, int] | None = None  # each pending trader's latest minute, when a window needs it
    out: dict[int, WindowStats] = {}
    for w in windows:
        start = t - t % 60 - w + 60
        settled, before, first = activity.settled_part(start, w)
        st = WindowStats(settled.trades, settled.buys, settled.sells, settled.volume_eth, settled.volume_token,
                         settled.traders, settled.high, settled.low)
        if oldest is None:
            pass
        elif oldest >= start:
            if first is None:
                first = pending[0].part.open
            _add(st, every.high, every.low, every.trades, every.buys, every.sells,  # type: ignore[arg-type]
                 every.volume_eth, every.volume_token)
            st.traders += bisect_left(settled_minutes, start)
        else:
            for pb in pending:
                part = pb.part
                if part.t - part.t % 60 < start:
                    before = part.close
                    continue
                if first is None:
                    first = part.open
                _add(st, part.high, part.low, part.trades, part.buys, part.sells, part.volume_eth,
                     part.volume_token)
            if latest is None:
                latest = {}
                for pb in pending:
                    latest.update(dict.fromkeys(pb.traders, pb.ts - pb.ts % 60))
            # It counts in a window that reaches its latest minute, unless its last settled
            # trade is in the window too (counted there already).
            st.traders += sum(1 for a, m in latest.items() if m >= start > known.get(a, NEVER))
        st.open = before if before is not None else first
        out[w] = st
    return out


def windows_volume_open(activity: Activity, pending: Sequence[PendingBlock], t: int,
                        windows: Sequence[int]) -> dict[int, tuple[int, Decimal | None]]:
    """Only (`volume_eth`, `open`) of `windows_stats` (what alert rules read), per trade: no
    traders, no extremes, so no walk of the pending traders."""
    out: dict[int, tuple[int, Decimal | None]] = {}
    for w in windows:
        start = t - t % 60 - w + 60
        settled, before, first = activity.settled_part(start, w)
        volume = settled.volume_eth
        for pb in pending:
            part = pb.part
            if part.t - part.t % 60 < start:
                before = part.close
                continue
            if first is None:
                first = part.open
            volume += part.volume_eth
        out[w] = (volume, before if before is not None else first)
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
