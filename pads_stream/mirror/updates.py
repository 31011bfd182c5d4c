"""The update message on `pads.candle-updates` (candle agent -> sink), keyed by token.

It carries full candles, never deltas, so writing it twice gives the same Redis state.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..candles.fold import Candle
from ..candles.intervals import label
from ..candles.price import format_price, trade_price
from ..decode.events import TradeEvent


def public_trade(trade: TradeEvent) -> dict[str, Any]:
    ref = trade.ref
    return {
        "chain_id": ref.chain_id, "token": trade.token, "trader": trade.trader, "is_buy": trade.is_buy,
        "token_amount": str(trade.token_amount), "eth_amount": str(trade.eth_amount),
        "price": format_price(trade_price(trade.eth_amount, trade.token_amount)),
        "block_number": ref.block_number, "block_timestamp": ref.block_timestamp,
        "tx_hash": ref.tx_hash, "log_index": ref.log_index,
    }


def public_candle(candle: Candle, final: bool) -> dict[str, Any]:
    d = candle.to_public()
    d["final"] = final
    return d


def encode_update(chain_id: int, token: str, market: dict[str, str], trade: TradeEvent | None = None,
                  candles: list[tuple[int, Candle, bool]] | None = None,
                  deleted: list[tuple[int, int]] | None = None, correction: bool = False,
                  removed_trade: tuple[int, int] | None = None, replayed: list[TradeEvent] | None = None) -> bytes:
    """`candles` are (seconds, candle, final); `deleted` are (seconds, bucket) left empty by a
    reorg; `correction` marks updates caused by removed logs; `removed_trade` is the
    (block_number, log_index) of a trade that is no longer on the chain; `replayed` are trades
    re-sent for the recent-trades list after an interruption (never pushed again)."""
    by_label: dict[str, list[dict[str, Any]]] = {}
    for s, c, final in candles or ():
        by_label.setdefault(label(s), []).append(public_candle(c, final))
    gone: dict[str, list[int]] = {}
    for s, t in deleted or ():
        gone.setdefault(label(s), []).append(t)
    return orjson.dumps({
        "chain_id": chain_id,
        "token": token,
        "trade": public_trade(trade) if trade else None,
        "removed_trade": list(removed_trade) if removed_trade else None,
        "candles": by_label,
        "deleted": gone,
        "correction": correction,
        "market": market,
        "replayed": [public_trade(t) for t in replayed or ()],
    })


def decode_update(payload: bytes) -> dict[str, Any]:
    d = orjson.loads(payload)
    if not isinstance(d, dict) or "token" not in d:
        raise ValueError("not a candle update")
    return d
