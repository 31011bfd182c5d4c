"""The update of one token by one batch: what the candle agent hands the Redis mirror and
the socket.io push.

It carries full candles, never deltas, so writing it twice gives the same Redis state. The
candle agent makes one per token and batch: `trades` are new trades and, marked `removed`,
trades that left the chain, in chain-event order; `correction` says a reorg changed candles.
"""

from __future__ import annotations

from typing import Any

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


class TokenUpdate:
    """What one token's update will say, accumulated over a batch (pure).

    Later versions of a bucket replace earlier ones and a bucket emptied then refilled is
    not deleted, so one update per token and batch says what every per-trade update in
    order would have said, in the end state. Trades and their removals keep chain-event
    order: a log removed and re-included at the same position must end present.
    """

    __slots__ = ("candles", "deleted", "trades", "correction")

    def __init__(self) -> None:
        self.candles: dict[tuple[int, int], tuple[Candle, bool]] = {}
        self.deleted: set[tuple[int, int]] = set()
        self.trades: list[dict[str, Any]] = []
        self.correction = False

    def emit(self, candles: list[tuple[int, Candle, bool]]) -> None:
        for s, c, final in candles:
            # A copy: the state goes on folding into the same object within the batch.
            self.candles[(s, c.t)] = (c.copy(), final)
            self.deleted.discard((s, c.t))

    def delete(self, buckets: list[tuple[int, int]]) -> None:
        for b in buckets:
            self.candles.pop(b, None)
            self.deleted.add(b)

    def trade(self, trade: TradeEvent) -> None:
        self.trades.append(public_trade(trade))

    def remove_trade(self, chain_id: int, token: str, cursor: tuple[int, int]) -> None:
        self.correction = True
        self.trades.append({"chain_id": chain_id, "token": token, "block_number": cursor[0],
                            "log_index": cursor[1], "removed": True})

    def to_dict(self, chain_id: int, token: str, market: dict[str, str]) -> dict[str, Any]:
        by_label: dict[str, list[dict[str, Any]]] = {}
        for (s, _), (c, final) in sorted(self.candles.items()):
            by_label.setdefault(label(s), []).append(public_candle(c, final))
        gone: dict[str, list[int]] = {}
        for s, t in sorted(self.deleted):
            gone.setdefault(label(s), []).append(t)
        return {
            "chain_id": chain_id,
            "token": token,
            "trades": self.trades,
            "candles": by_label,
            "deleted": gone,
            "correction": self.correction,
            "market": dict(market),  # a copy: the state's market goes on changing in later batches
        }
