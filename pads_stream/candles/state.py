"""Per-token state held in one table value: the open candle of every interval, the market
snapshot, and the cursor of the last applied log. One write per trade, not one per interval.

Applying a log at or below the cursor changes nothing, which makes redelivery harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import orjson

from ..decode.events import CurveCreatedEvent, GraduatedEvent, TradeEvent
from ..errors import OrderError
from .fold import Candle, fold
from .intervals import bucket_start
from .price import format_price, trade_price


@dataclass(slots=True)
class TokenState:
    cursor: tuple[int, int] | None = None
    candles: dict[int, Candle] = field(default_factory=dict)
    market: dict[str, str] = field(default_factory=dict)

    def seen(self, cursor: tuple[int, int]) -> bool:
        return self.cursor is not None and cursor <= self.cursor


def apply_trade(state: TokenState, trade: TradeEvent, intervals: tuple[int, ...]) -> list[tuple[int, Candle]] | None:
    """Fold a trade into every interval. None when the trade was already applied."""
    ref = trade.ref
    if state.seen(ref.cursor):
        return None
    price = trade_price(trade.eth_amount, trade.token_amount)
    ts = ref.block_timestamp
    for seconds in intervals:
        current = state.candles.get(seconds)
        if current is not None and bucket_start(ts, seconds) < current.t:
            raise OrderError(f"trade at {ts} (block {ref.block_number}) is older than open "
                             f"{seconds}s candle {current.t} of {trade.token}")
    touched = []
    for seconds in intervals:
        candle = fold(state.candles.get(seconds), bucket_start(ts, seconds), price, trade.is_buy,
                      trade.token_amount, trade.eth_amount)
        state.candles[seconds] = candle
        touched.append((seconds, candle))
    state.cursor = ref.cursor
    m = state.market
    m["price"] = format_price(price)
    m["last_trade_block"] = str(ref.block_number)
    m["last_trade_log_index"] = str(ref.log_index)
    m["last_trade_at"] = str(ts)
    m["virtual_eth_reserves"] = str(trade.virtual_eth)
    m["virtual_token_reserves"] = str(trade.virtual_token)
    m["trades"] = str(int(m.get("trades", "0")) + 1)
    m["volume_eth"] = str(int(m.get("volume_eth", "0")) + trade.eth_amount)
    m["volume_token"] = str(int(m.get("volume_token", "0")) + trade.token_amount)
    return touched


def apply_curve_created(state: TokenState, ev: CurveCreatedEvent) -> bool:
    """Metadata only, so it needs no cursor: applying it twice sets the same fields."""
    new = {"name": ev.name, "symbol": ev.symbol, "curve": ev.curve, "creator": ev.creator,
           "created_block": str(ev.ref.block_number), "created_at": str(ev.ref.block_timestamp)}
    if all(state.market.get(k) == v for k, v in new.items()):
        return False
    state.market.update(new)
    return True


def apply_graduated(state: TokenState, ev: GraduatedEvent) -> bool:
    if state.seen(ev.ref.cursor):
        return False
    state.cursor = ev.ref.cursor
    state.market.update(graduated="1", graduated_block=str(ev.ref.block_number),
                        graduated_at=str(ev.ref.block_timestamp),
                        graduation_eth_reserves=str(ev.eth_reserves))
    return True


def encode_state(state: TokenState) -> bytes:
    candles = {
        str(s): [c.t, format_price(c.open), format_price(c.high), format_price(c.low),
                 format_price(c.close), str(c.volume_token), str(c.volume_eth), c.trades, c.buys, c.sells]
        for s, c in sorted(state.candles.items())
    }
    return orjson.dumps({"c": list(state.cursor) if state.cursor else None, "k": candles,
                         "m": state.market}, option=orjson.OPT_SORT_KEYS)


def decode_state(payload: bytes | None) -> TokenState:
    if not payload:
        return TokenState()
    d = orjson.loads(payload)
    candles = {
        int(s): Candle(v[0], Decimal(v[1]), Decimal(v[2]), Decimal(v[3]), Decimal(v[4]), int(v[5]),
                       int(v[6]), v[7], v[8], v[9])
        for s, v in d["k"].items()
    }
    cursor = tuple(d["c"]) if d["c"] else None
    return TokenState(cursor, candles, dict(d["m"]))  # type: ignore[arg-type]
