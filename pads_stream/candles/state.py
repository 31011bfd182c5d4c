"""Per-token state held in one table value, with reorgs modelled as data (pure).

    settled  candles and market folded from final trades only (block <= finalized)
    pending  the trades not final yet, in chain order, kept so a removal can be re-folded
    candles  the current view: settled + pending, what Redis shows

A trade is applied once (cursor), a removed trade is dropped from `pending` and the touched
buckets are re-folded from `settled`, and a head marker moves deep enough trades to
`settled`. A candle is final when none of its trades is pending.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..decode.events import CurveCreatedEvent, GraduatedEvent, LogRef, TradeEvent
from ..errors import OrderError, PadsStreamError
from .fold import Candle, fold
from .intervals import bucket_start
from .price import format_price, trade_price

Emitted = list[tuple[int, Candle, bool]]  # (interval seconds, candle, final)


class DeepReorgError(PadsStreamError):
    """A removed log is older than the kept pending trades: only a rebuild can undo it."""


@dataclass(slots=True)
class Pending:
    block: int
    log_index: int
    block_hash: str
    ts: int
    is_buy: bool
    token_amount: int
    eth_amount: int
    virtual_eth: int
    virtual_token: int
    # Only what settling, a removal and the market snapshot need: a hot token's value holds
    # thousands of these and is rewritten at every flush (trader and tx hash were 45 % of it).
    # Its table encoding, made once: a hot token re-encodes hundreds of pending trades per batch.
    encoded: bytes | None = field(default=None, compare=False, repr=False)

    @property
    def cursor(self) -> tuple[int, int]:
        return (self.block, self.log_index)

    @classmethod
    def of(cls, t: TradeEvent) -> Pending:
        r = t.ref
        return cls(r.block_number, r.log_index, r.block_hash, r.block_timestamp, t.is_buy, t.token_amount,
                   t.eth_amount, t.virtual_eth, t.virtual_token)


@dataclass(slots=True)
class TokenState:
    cursor: tuple[int, int] | None = None
    offset: int = -1
    settled_cursor: tuple[int, int] | None = None
    settled: dict[int, Candle] = field(default_factory=dict)
    settled_market: dict[str, str] = field(default_factory=dict)
    pending: list[Pending] = field(default_factory=list)
    candles: dict[int, Candle] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)
    # Sums over `pending`, kept as it changes: the market snapshot is O(1), not O(pending).
    pending_eth: int = field(default=0, compare=False)
    pending_token: int = field(default=0, compare=False)

    def sum_pending(self) -> None:
        self.pending_eth = sum(p.eth_amount for p in self.pending)
        self.pending_token = sum(p.token_amount for p in self.pending)

    def seen(self, cursor: tuple[int, int]) -> bool:
        return self.cursor is not None and cursor <= self.cursor

    @property
    def market(self) -> dict[str, str]:
        m = dict(self.meta)
        m.update(self.settled_market)
        if self.pending:
            # Only the last trade sets the price: one division, not one per pending trade.
            _market_add(m, self.pending[-1])
            last = self.pending[-1]
            m["trades"] = str(int(m["trades"]) + len(self.pending) - 1)
            m["volume_eth"] = str(int(m["volume_eth"]) + self.pending_eth - last.eth_amount)
            m["volume_token"] = str(int(m["volume_token"]) + self.pending_token - last.token_amount)
        return m


def _market_add(m: dict[str, str], p: Pending) -> None:
    m["price"] = format_price(trade_price(p.eth_amount, p.token_amount))
    m["last_trade_block"] = str(p.block)
    m["last_trade_log_index"] = str(p.log_index)
    m["last_trade_at"] = str(p.ts)
    m["virtual_eth_reserves"] = str(p.virtual_eth)
    m["virtual_token_reserves"] = str(p.virtual_token)
    m["trades"] = str(int(m.get("trades", "0")) + 1)
    m["volume_eth"] = str(int(m.get("volume_eth", "0")) + p.eth_amount)
    m["volume_token"] = str(int(m.get("volume_token", "0")) + p.token_amount)


def _fold_into(candles: dict[int, Candle], p: Pending, intervals: tuple[int, ...]) -> None:
    price = trade_price(p.eth_amount, p.token_amount)
    for s in intervals:
        candles[s] = fold(candles.get(s), bucket_start(p.ts, s), price, p.is_buy, p.token_amount, p.eth_amount)


def view(state: TokenState, intervals: tuple[int, ...]) -> dict[int, dict[int, Candle]]:
    """Every bucket the pending trades touch, plus each interval's latest settled bucket."""
    out: dict[int, dict[int, Candle]] = {s: {} for s in intervals}
    for s in intervals:
        c = state.settled.get(s)
        if c is not None:
            out[s][c.t] = c.copy()
    for p in state.pending:
        price = trade_price(p.eth_amount, p.token_amount)
        for s in intervals:
            b = bucket_start(p.ts, s)
            out[s][b] = fold(out[s].get(b), b, price, p.is_buy, p.token_amount, p.eth_amount)
    return out


def pending_buckets(state: TokenState, intervals: tuple[int, ...]) -> set[tuple[int, int]]:
    return {(s, bucket_start(p.ts, s)) for p in state.pending for s in intervals}


def current_view(state: TokenState, intervals: tuple[int, ...]) -> Emitted:
    """Every bucket the state still holds, with its final flag, oldest first."""
    pending = pending_buckets(state, intervals)
    return [(s, c, (s, t) not in pending) for s, by_t in view(state, intervals).items() for t, c in sorted(by_t.items())]


def apply_trade(state: TokenState, trade: TradeEvent, intervals: tuple[int, ...]) -> Emitted | None:
    """Fold a new trade in as pending. None when it was already applied."""
    ref = trade.ref
    if state.seen(ref.cursor):
        return None
    for s in intervals:
        current = state.candles.get(s)
        if current is not None and bucket_start(ref.block_timestamp, s) < current.t:
            raise OrderError(f"trade at {ref.block_timestamp} (block {ref.block_number}) is older than open "
                             f"{s}s candle {current.t} of {trade.token}")
    p = Pending.of(trade)
    state.pending.append(p)
    state.pending_eth += p.eth_amount
    state.pending_token += p.token_amount
    _fold_into(state.candles, p, intervals)
    state.cursor = ref.cursor
    return [(s, state.candles[s], False) for s in intervals]


def remove_trade(state: TokenState, ref: LogRef, intervals: tuple[int, ...]) -> tuple[Emitted, list[tuple[int, int]]] | None:
    """Undo a trade that left the canonical chain: (corrected candles, emptied buckets), or
    None when it is not pending (already removed, or never applied)."""
    idx = next((i for i, p in enumerate(state.pending)
                if p.cursor == ref.cursor and p.block_hash == ref.block_hash), None)
    if idx is None:
        if state.settled_cursor is not None and ref.cursor <= state.settled_cursor:
            raise DeepReorgError(f"removed log at block {ref.block_number} index {ref.log_index} is already "
                                 f"final (settled up to {state.settled_cursor}): reorg deeper than FINALITY_DEPTH")
        return None
    before = view(state, intervals)
    was = pending_buckets(state, intervals)
    gone = state.pending.pop(idx)
    state.pending_eth -= gone.eth_amount
    state.pending_token -= gone.token_amount
    after = view(state, intervals)
    state.candles = {s: after[s][max(after[s])] for s in intervals if after[s]}
    state.cursor = state.pending[-1].cursor if state.pending else state.settled_cursor
    still = pending_buckets(state, intervals)
    emitted = [(s, c, (s, t) not in still) for s in intervals for t, c in sorted(after[s].items())
               if before[s].get(t) != c or ((s, t) in was) != ((s, t) in still)]
    deleted = [(s, t) for s in intervals for t in sorted(before[s]) if t not in after[s]]
    return emitted, deleted


def settle(state: TokenState, finalized_block: int, intervals: tuple[int, ...]) -> Emitted:
    """Move pending trades at or below `finalized_block` to settled; returns the candles whose
    final flag turned true, by interval then bucket.

    O(settled trades), not O(pending): a hot token keeps thousands of trades pending and every
    block settles a few. Trades are in chain order, so each interval's buckets only grow: a
    bucket turns final when the fold moves past it, and the last one unless the first trade
    still pending shares it (no later pending trade can)."""
    n = 0
    for p in state.pending:
        if p.block > finalized_block:
            break
        n += 1
    if not n:
        return []
    done, keep = state.pending[:n], state.pending[n:]
    prices = [trade_price(p.eth_amount, p.token_amount) for p in done]
    flipped: Emitted = []
    for s in sorted(intervals):
        still = bucket_start(keep[0].ts, s) if keep else None
        candle = state.settled.get(s)
        for i, (p, price) in enumerate(zip(done, prices, strict=True)):
            b = bucket_start(p.ts, s)
            if i and candle is not None and candle.t != b:
                flipped.append((s, candle, True))  # left behind by the fold, never mutated again
            candle = fold(candle, b, price, p.is_buy, p.token_amount, p.eth_amount)
        assert candle is not None
        state.settled[s] = candle
        if candle.t != still:
            flipped.append((s, candle.copy(), True))
    last = done[-1]
    m = state.settled_market
    _market_add(m, last)  # price and position from the last trade only: one division
    m["trades"] = str(int(m["trades"]) + n - 1)
    eth, tok = sum(p.eth_amount for p in done), sum(p.token_amount for p in done)
    m["volume_eth"] = str(int(m["volume_eth"]) + eth - last.eth_amount)
    m["volume_token"] = str(int(m["volume_token"]) + tok - last.token_amount)
    state.settled_cursor = last.cursor
    state.pending = keep
    state.pending_eth -= eth
    state.pending_token -= tok
    return flipped


def apply_curve_created(state: TokenState, ev: CurveCreatedEvent) -> bool:
    """Metadata only, so it needs no cursor: applying it twice sets the same fields."""
    new = {"name": ev.name, "symbol": ev.symbol, "curve": ev.curve, "creator": ev.creator,
           "created_block": str(ev.ref.block_number), "created_at": str(ev.ref.block_timestamp)}
    if all(state.meta.get(k) == v for k, v in new.items()):
        return False
    state.meta.update(new)
    return True


def apply_graduated(state: TokenState, ev: GraduatedEvent) -> bool:
    ref = ev.ref
    if ref.removed:
        if state.meta.get("graduated_hash") != ref.block_hash:
            return False
        for k in ("graduated", "graduated_block", "graduated_at", "graduation_eth_reserves", "graduated_hash"):
            state.meta.pop(k, None)
        # The new branch may hold logs below the graduation's position: rewind the cursor.
        state.cursor = state.pending[-1].cursor if state.pending else state.settled_cursor
        return True
    if state.seen(ref.cursor):
        return False
    state.cursor = ref.cursor
    state.meta.update(graduated="1", graduated_block=str(ref.block_number), graduated_at=str(ref.block_timestamp),
                      graduation_eth_reserves=str(ev.eth_reserves), graduated_hash=ref.block_hash)
    return True
