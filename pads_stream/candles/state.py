"""Per-token state held in one table value, with reorgs modelled as data (pure).

    settled   candles and market folded from final trades only (block <= finalized)
    pending   the trades not final yet, folded per block, kept so a removal can be re-folded
    candles   the current view: settled + pending, what Redis shows
    orphaned  blocks a reorg removed while some of their logs' removals are still to come

A trade is applied once (cursor), a head marker moves deep enough blocks to `settled`, and a
candle is final when none of its trades is pending. A block's trades share its timestamp, so
they fall into one bucket of every interval, and a reorg orphans a block whole: the first of
its logs to be removed takes the block out and the touched buckets are re-folded from
`settled`; the others only take their trade out of the mirror.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..decode.events import CurveCreatedEvent, GraduatedEvent, LogRef, TradeEvent
from ..errors import OrderError, PadsStreamError
from .fold import Candle, fold_part
from .intervals import bucket_start
from .market import Market, MarketParams, TokenInfo, TradeTotals
from .price import trade_price
from .windows import Activity, all_time_high, windows_stats

Emitted = list[tuple[int, Candle, bool]]  # (interval seconds, candle, final)


class DeepReorgError(PadsStreamError):
    """A removed log is older than the kept pending trades: only a rebuild can undo it."""


@dataclass(slots=True)
class PendingBlock:
    """A token's trades in one block that is not final yet: a hot token's value holds one of
    these per non-final block, not one entry per trade, and stays small however busy it is."""

    block: int
    block_hash: str
    indexes: list[int]  # log indexes of its trades, ascending: which removals are its own
    part: Candle  # its trades folded; `t` is the block timestamp
    virtual_eth: int  # reserves after its last trade
    virtual_token: int
    traders: list[str] = field(default_factory=list)  # of its trades, in order (for traders_{W})
    # Its table encoding, made once: only the newest block changes between flushes.
    encoded: bytes | None = field(default=None, compare=False, repr=False)

    @property
    def ts(self) -> int:
        return self.part.t

    @property
    def cursor(self) -> tuple[int, int]:
        return (self.block, self.indexes[-1])

    @classmethod
    def of(cls, t: TradeEvent, price: Decimal) -> PendingBlock:
        r = t.ref
        return cls(r.block_number, r.block_hash, [r.log_index],
                   Candle.first(r.block_timestamp, price, t.is_buy, t.token_amount, t.eth_amount),
                   t.virtual_eth, t.virtual_token, [t.trader])

    def add(self, t: TradeEvent, price: Decimal) -> None:
        self.indexes.append(t.ref.log_index)
        self.traders.append(t.trader)
        self.part.add(price, t.is_buy, t.token_amount, t.eth_amount)
        self.virtual_eth, self.virtual_token = t.virtual_eth, t.virtual_token
        self.encoded = None


def add_pending(blocks: list[PendingBlock], trade: TradeEvent, price: Decimal) -> None:
    """Into the last block when the trade is of it, else into a new one (trades come in chain order)."""
    last = blocks[-1] if blocks else None
    ref = trade.ref
    if last is not None and last.block == ref.block_number and last.block_hash == ref.block_hash:
        last.add(trade, price)
    else:
        blocks.append(PendingBlock.of(trade, price))


@dataclass(slots=True)
class TokenState:
    cursor: tuple[int, int] | None = None
    offset: int = -1
    settled_cursor: tuple[int, int] | None = None
    settled: dict[int, Candle] = field(default_factory=dict)
    settled_market: TradeTotals = field(default_factory=TradeTotals)
    pending: list[PendingBlock] = field(default_factory=list)
    candles: dict[int, Candle] = field(default_factory=dict)
    info: TokenInfo = field(default_factory=TokenInfo)
    activity: Activity = field(default_factory=Activity)  # settled trades per minute, for windows and ATH
    # (block, hash, log indexes whose removal has not come yet) of blocks a reorg took out.
    orphaned: list[tuple[int, str, list[int]]] = field(default_factory=list)
    # Domain events and alerts whose cause is not final yet (`alerts.events.Pending`), in chain
    # order, and the `once` rules that fired on a final cause: see `candles.events`.
    events: list[list[Any]] = field(default_factory=list)
    once: list[str] = field(default_factory=list)
    # Never stored: the market's wire form as this process last handed it to the sinks, so
    # the mirror can write what changed. Dropped with the cache whenever that may be stale.
    shown: dict[str, str] | None = field(default=None, compare=False, repr=False)
    # Never stored: the trades `add_trade` added since the open candles last took them, all of
    # the last pending block; `fold_tail` folds them in before the candles are read or written.
    tail: Candle | None = field(default=None, compare=False, repr=False)
    # Never stored: (first pending block, last, how many, the highest price before the last)
    # for `ath_price`; blocks are only appended, settled from the front or removed whole.
    high_memo: tuple[PendingBlock, PendingBlock, int, Decimal | None] | None = field(
        default=None, compare=False, repr=False)

    def forget_derived(self) -> None:
        """Out of the cache, a state lives on only until its table write is flushed, and is
        never read again (the next batch decodes that write): free what only speeds it up."""
        self.shown = None
        self.high_memo = None
        self.activity.forget_derived()

    def seen(self, cursor: tuple[int, int]) -> bool:
        return self.cursor is not None and cursor <= self.cursor

    @property
    def market(self) -> Market:
        """The snapshot the worker shows: settled totals plus the pending trades."""
        totals = self.settled_market.copy()
        if self.pending:
            _market_add(totals, self.pending)
        return Market(self.info.copy(), totals)

    def snapshot(self, t: int, params: MarketParams) -> Market:
        """The market at chain time `t`, with the windows and derived fields."""
        m = self.market
        if self.pending:
            t = max(t, self.pending[-1].ts)
        elif m.totals.price is not None:
            t = max(t, m.totals.last_trade_at)
        m.windows = windows_stats(self.activity, self.pending, t, params.windows)
        m.ath, m.ath_at = all_time_high(self.activity, self.pending)
        m.params = params
        return m

    def ath_price(self) -> Decimal | None:
        """`all_time_high`'s price, for every trade's events: the blocks before the last one are
        walked once per block, not once per trade (a hot token keeps dozens pending)."""
        pending = self.pending
        if not pending:
            return self.activity.ath
        first, last, n = pending[0], pending[-1], len(pending)
        memo = self.high_memo
        if memo is None or memo[0] is not first or memo[1] is not last or memo[2] != n:
            prefix: Decimal | None
            if memo is not None and memo[0] is first and memo[2] == n - 1 and memo[1] is pending[-2]:
                was = memo[1].part.high  # the memo's last block is the one before the last now
                prefix = was if memo[3] is None or was > memo[3] else memo[3]
            else:
                prefix = all_time_high(self.activity, pending[:-1])[0]
            memo = self.high_memo = (first, last, n, prefix)
        high = last.part.high
        return high if memo[3] is None or high > memo[3] else memo[3]


def _market_add(m: TradeTotals, blocks: list[PendingBlock]) -> None:
    """Price and position from the last trade; counts and volumes over all."""
    last = blocks[-1]
    m.last(last.part.close, last.block, last.indexes[-1], last.ts, last.virtual_eth, last.virtual_token)
    trades = volume_eth = volume_token = 0
    for b in blocks:  # one loop, not three sums: runs for every token update
        part = b.part
        trades += part.trades
        volume_eth += part.volume_eth
        volume_token += part.volume_token
    m.add(trades, volume_eth, volume_token)


def view(state: TokenState, intervals: tuple[int, ...]) -> dict[int, dict[int, Candle]]:
    """Every bucket the pending trades touch, plus each interval's latest settled bucket."""
    out: dict[int, dict[int, Candle]] = {s: {} for s in intervals}
    for s in intervals:
        c = state.settled.get(s)
        if c is not None:
            out[s][c.t] = c.copy()
    for pb in state.pending:
        for s in intervals:
            b = bucket_start(pb.ts, s)
            out[s][b] = fold_part(out[s].get(b), b, pb.part)
    return out


def pending_buckets(state: TokenState, intervals: tuple[int, ...]) -> set[tuple[int, int]]:
    return {(s, bucket_start(pb.ts, s)) for pb in state.pending for s in intervals}


def current_view(state: TokenState, intervals: tuple[int, ...]) -> Emitted:
    """Every bucket the state still holds, with its final flag, oldest first."""
    pending = pending_buckets(state, intervals)
    return [(s, c, (s, t) not in pending) for s, by_t in view(state, intervals).items() for t, c in sorted(by_t.items())]


def apply_trade(state: TokenState, trade: TradeEvent, intervals: tuple[int, ...]) -> Emitted | None:
    """Fold a new trade in as pending, into every interval's open candle. None when it was
    already applied."""
    if add_trade(state, trade, intervals) is None:
        return None
    fold_tail(state, intervals)
    return [(s, state.candles[s], False) for s in intervals]


def add_trade(state: TokenState, trade: TradeEvent, intervals: tuple[int, ...]) -> Emitted | None:
    """`apply_trade`, except that a trade of the block the last one was in goes into
    `state.tail` alone: its trades share one timestamp, so one bucket of every interval, and
    folding them into the open candles once per block (`fold_tail`), not once per trade and
    interval, makes the same candles. Returns the open candles that folding the tail of an
    earlier block changed (see `fold_tail`), or None when the trade was already applied."""
    ref = trade.ref
    if state.seen(ref.cursor):
        return None
    price = trade_price(trade.eth_amount, trade.token_amount)
    tail, ts = state.tail, ref.block_timestamp
    if tail is not None and tail.t == ts and state.pending:
        last = state.pending[-1]
        if last.block == ref.block_number and last.block_hash == ref.block_hash:
            last.add(trade, price)
            tail.add(price, trade.is_buy, trade.token_amount, trade.eth_amount)
            state.cursor = ref.cursor
            return []
    emitted = fold_tail(state, intervals)
    for s in intervals:
        current = state.candles.get(s)
        if current is not None and bucket_start(ts, s) < current.t:
            raise OrderError(f"trade at {ts} (block {ref.block_number}) is older than open "
                             f"{s}s candle {current.t} of {trade.token}")
    add_pending(state.pending, trade, price)
    state.tail = Candle.first(ts, price, trade.is_buy, trade.token_amount, trade.eth_amount)
    state.cursor = ref.cursor
    return emitted


def fold_tail(state: TokenState, intervals: tuple[int, ...]) -> Emitted:
    """Fold the trades `add_trade` left in `state.tail` into the open candles: every interval's
    open candle after it (a new object where the tail starts a bucket), none without a tail."""
    tail = state.tail
    if tail is None:
        return []
    state.tail = None
    candles, t = state.candles, tail.t
    out: Emitted = []
    for s in intervals:
        c = candles[s] = fold_part(candles.get(s), t - t % s, tail)  # `bucket_start`, inlined
        out.append((s, c, False))
    return out


def remove_trade(state: TokenState, ref: LogRef, intervals: tuple[int, ...]) -> tuple[Emitted, list[tuple[int, int]]] | None:
    """Undo a trade that left the canonical chain: (corrected candles, emptied buckets), both
    empty when its block went with an earlier log, or None when it is not pending (already
    removed, or never applied)."""
    for k, (block, block_hash, indexes) in enumerate(state.orphaned):
        if block == ref.block_number and block_hash == ref.block_hash and ref.log_index in indexes:
            indexes.remove(ref.log_index)
            if not indexes:
                del state.orphaned[k]
            return [], []
    idx = next((i for i, pb in enumerate(state.pending)
                if pb.block == ref.block_number and pb.block_hash == ref.block_hash
                and ref.log_index in pb.indexes), None)
    if idx is None:
        if state.settled_cursor is not None and ref.cursor <= state.settled_cursor:
            raise DeepReorgError(f"removed log at block {ref.block_number} index {ref.log_index} is already "
                                 f"final (settled up to {state.settled_cursor}): reorg deeper than FINALITY_DEPTH")
        return None
    before = view(state, intervals)
    was = pending_buckets(state, intervals)
    gone = state.pending.pop(idx)
    rest = [i for i in gone.indexes if i != ref.log_index]
    if rest:
        state.orphaned.append((gone.block, gone.block_hash, rest))
    after = view(state, intervals)
    state.tail = None  # the view holds every pending trade
    state.candles = {s: after[s][max(after[s])] for s in intervals if after[s]}
    state.cursor = state.pending[-1].cursor if state.pending else state.settled_cursor
    still = pending_buckets(state, intervals)
    emitted = [(s, c, (s, t) not in still) for s in intervals for t, c in sorted(after[s].items())
               if before[s].get(t) != c or ((s, t) in was) != ((s, t) in still)]
    deleted = [(s, t) for s in intervals for t in sorted(before[s]) if t not in after[s]]
    return emitted, deleted


def settle(state: TokenState, finalized_block: int, intervals: tuple[int, ...], activity: bool = True) -> Emitted:
    """Move pending blocks at or below `finalized_block` to settled; returns the candles whose
    final flag turned true, by interval then bucket.

    O(settled blocks), not O(pending): every head marker settles a block or two. Blocks are
    in chain order, so each interval's buckets only grow: a bucket turns final when the fold
    moves past it, and the last one unless the first block still pending shares it (no later
    one can)."""
    n = 0
    for pb in state.pending:
        if pb.block > finalized_block:
            break
        n += 1
    if not n:
        return []
    done, keep = state.pending[:n], state.pending[n:]
    flipped: Emitted = []
    parts = [pb.part for pb in done]
    first, rest = parts[0], parts[1:]
    nxt = keep[0].part.t if keep else None
    settled = state.settled
    for s in sorted(intervals):  # bucket starts inlined (`bucket_start`): 9 intervals a block
        t = first.t
        candle = fold_part(settled.get(s), t - t % s, first)
        for part in rest:
            t = part.t
            b = t - t % s
            if candle.t != b:
                flipped.append((s, candle, True))  # left behind by the fold, never mutated again
            candle = fold_part(candle, b, part)
        settled[s] = candle
        if nxt is None or candle.t != nxt - nxt % s:
            flipped.append((s, candle.copy(), True))
    _market_add(state.settled_market, done)
    if activity:  # the per-minute history behind windows and the ATH (MARKET_DATA)
        for pb in done:
            state.activity.settle(pb)
    state.settled_cursor = done[-1].cursor
    state.pending = keep
    # Removals for blocks at or below a final one would be deep reorgs: nothing is waiting.
    if state.orphaned:
        state.orphaned = [o for o in state.orphaned if o[0] > finalized_block]
    return flipped


def apply_curve_created_info(info: TokenInfo, ev: CurveCreatedEvent) -> bool:
    ref = ev.ref
    new = (ev.name, ev.symbol, ev.curve, ev.creator, ref.block_number, ref.block_timestamp)
    if (info.name, info.symbol, info.curve, info.creator, info.created_block, info.created_at) == new:
        return False
    info.name, info.symbol, info.curve, info.creator, info.created_block, info.created_at = new
    return True


def apply_graduated_info(info: TokenInfo, ev: GraduatedEvent) -> None:
    ref = ev.ref
    info.graduated, info.graduated_block, info.graduated_at = True, ref.block_number, ref.block_timestamp
    info.graduation_eth_reserves, info.graduated_hash = ev.eth_reserves, ref.block_hash


def apply_curve_created(state: TokenState, ev: CurveCreatedEvent) -> bool:
    """Metadata only, so it needs no cursor: applying it twice sets the same fields. Its
    removal (a reorg) clears them, when it is the creation the state holds: a token is created
    once, and the bridge publishes removals before the new branch's logs."""
    info = state.info
    if ev.ref.removed:
        if info.curve is None or info.created_block != ev.ref.block_number:
            return False
        info.name = info.symbol = info.curve = info.creator = None
        info.created_block = info.created_at = None
        return True
    return apply_curve_created_info(info, ev)


def apply_graduated(state: TokenState, ev: GraduatedEvent) -> bool:
    ref, info = ev.ref, state.info
    if ref.removed:
        if info.graduated_hash != ref.block_hash:
            return False
        info.ungraduate()
        # The new branch may hold logs below the graduation's position: rewind the cursor.
        state.cursor = state.pending[-1].cursor if state.pending else state.settled_cursor
        return True
    if state.seen(ref.cursor):
        return False
    state.cursor = ref.cursor
    apply_graduated_info(info, ev)
    return True
