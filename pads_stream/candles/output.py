"""What a batch changed, per token (pure): the typed output every sink receives.

A `TokenOutput` carries full candles, never deltas, so a sink that writes it twice ends in
the same state. The batch folder makes one per token and batch: `trades` are new trades and,
as `TradeRemoved`, trades that left the chain, in chain-event order; `correction` says a
reorg changed candles; `market` is the token's snapshot after the batch.

It becomes wire JSON only at a sink's edge, through `wire()` (made once and shared by the
sinks), whose shape is the socket.io payload and what the Redis mirror plans from. A candle
is made canonical JSON once per batch, when its output is built (`candle_json`): the Redis
member and the push payload both use those bytes, so the hot path never builds a candle dict.

    {"chain_id", "token", "trades": [trade | removal], "candles": {label: [candle + final]},
     "deleted": {label: [bucket]}, "correction": bool, "market": {field: string},
     "expired": {label: bucket}}   (only with CANDLE_RETENTION: buckets before these are gone)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..decode.events import TradeEvent
from .fold import Candle
from .intervals import label
from .market import Market, WireView
from .price import format_price, trade_price


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


_MEMBER = ('{"buys":%d,"close":"%s","final":%s,"high":"%s","low":"%s","open":"%s","sells":%d,"t":%d,'
           '"trades":%d,"volume_eth":"%d","volume_token":"%d"}')


def candle_json(c: Candle, final: bool) -> bytes:
    """`public_candle(c, final)` as canonical JSON (sorted keys, no spaces), made without a dict:
    the Redis member (equal to `mirror.candle_member` of the dict) and the push payload."""
    # A candle of one trade (most 1s candles) holds one price object four times: formatted once.
    o, h, lo, cl = c.open, c.high, c.low, c.close
    fo = format_price(o)
    return (_MEMBER % (c.buys, fo if cl is o else format_price(cl), "true" if final else "false",
                       fo if h is o else format_price(h), fo if lo is o else format_price(lo), fo, c.sells, c.t,
                       c.trades, c.volume_eth, c.volume_token)).encode()



@dataclass(frozen=True, slots=True)
class TradeRemoved:
    """A trade that left the canonical chain, by its chain position."""

    block_number: int
    log_index: int


@dataclass(slots=True, eq=False)
class TokenOutput(WireView[Any]):
    """Reads as a mapping of its wire form too (for tests and tools, not the hot path)."""

    chain_id: int
    token: str
    candles: list[tuple[int, int, bytes]]  # (interval seconds, bucket, `candle_json`), by interval then bucket
    deleted: list[tuple[int, int]]  # (interval seconds, bucket), sorted
    trades: list[TradeEvent | TradeRemoved]
    correction: bool
    market: Mapping[str, str]  # a `Market` snapshot or its wire form (never changed once built)
    # interval seconds -> buckets before this start leave Redis (CANDLE_RETENTION)
    expired: dict[int, int] = field(default_factory=dict)
    # The token's market as this worker last delivered it, if it knows: a durable sink may
    # write the difference. Never part of the wire form.
    base: Mapping[str, str] | None = None
    # Domain events and alerts (`alerts.events`), canonical JSON, in chain order. Never part of the wire form.
    events: list[bytes] = field(default_factory=list)
    _trades: list[dict[str, Any]] | None = field(default=None, repr=False)
    _wire: dict[str, Any] | None = field(default=None, repr=False)

    def trades_wire(self) -> list[dict[str, Any]]:
        """The wire form of `trades`, made once and shared by the sinks."""
        if self._trades is None:
            self._trades = [public_trade(t) if isinstance(t, TradeEvent) else
                            {"chain_id": self.chain_id, "token": self.token, "block_number": t.block_number,
                             "log_index": t.log_index, "removed": True} for t in self.trades]
        return self._trades

    def market_wire(self) -> Mapping[str, str]:
        m = self.market
        return m.wire() if isinstance(m, Market) else m

    def wire(self) -> dict[str, Any]:
        """The whole wire form, candles as dicts: for readers and tests (sinks use the parts)."""
        if self._wire is None:
            by_label: dict[str, list[dict[str, Any]]] = {}
            for s, _, member in self.candles:
                by_label.setdefault(label(s), []).append(orjson.loads(member))
            gone: dict[str, list[int]] = {}
            for s, t in self.deleted:
                gone.setdefault(label(s), []).append(t)
            self._wire = {
                "chain_id": self.chain_id,
                "token": self.token,
                "trades": self.trades_wire(),
                "candles": by_label,
                "deleted": gone,
                "correction": self.correction,
                "market": self.market_wire(),
            }
            if self.expired:
                self._wire["expired"] = {label(s): t for s, t in sorted(self.expired.items())}
        return self._wire


class TokenUpdate:
    """What one token's output will say, accumulated over a batch.

    Later versions of a bucket replace earlier ones and a bucket emptied then refilled is
    not deleted, so one output per token and batch says what every per-trade output in
    order would have said, in the end state. Trades and their removals keep chain-event
    order: a log removed and re-included at the same position must end present.
    """

    __slots__ = ("candles", "deleted", "trades", "correction", "events")

    def __init__(self) -> None:
        self.candles: dict[tuple[int, int], tuple[Candle, bool]] = {}  # (interval, bucket) -> (candle, final)
        self.deleted: set[tuple[int, int]] = set()
        self.trades: list[TradeEvent | TradeRemoved] = []
        self.correction = False
        self.events: list[bytes] = []

    def emit(self, candles: list[tuple[int, Candle, bool]]) -> None:
        """Kept as objects and made JSON once, by `build`: a bucket is emitted again whenever a
        trade, a settle or a reorg changes it, and only its last version is delivered. The
        state may go on folding into an emitted object only while it is its bucket's open
        candle, whose every change is emitted again (so the last version is its end state);
        a candle left behind or turned final is never changed again (see `state`)."""
        out = self.candles
        for s, c, final in candles:
            out[(s, c.t)] = (c, final)
        if self.deleted:
            for s, c, _ in candles:
                self.deleted.discard((s, c.t))

    def delete(self, buckets: list[tuple[int, int]]) -> None:
        for b in buckets:
            self.candles.pop(b, None)
            self.deleted.add(b)

    def trade(self, trade: TradeEvent) -> None:
        self.trades.append(trade)

    def remove_trade(self, chain_id: int, token: str, cursor: tuple[int, int]) -> None:
        self.correction = True
        self.trades.append(TradeRemoved(cursor[0], cursor[1]))

    def build(self, chain_id: int, token: str, market: Mapping[str, str],
              expired: dict[int, int] | None = None, base: Mapping[str, str] | None = None) -> TokenOutput:
        return TokenOutput(chain_id, token, [(s, t, candle_json(c, final))
                                             for (s, t), (c, final) in sorted(self.candles.items())],
                           sorted(self.deleted), self.trades, self.correction, market, expired or {}, base,
                           self.events)

    def to_dict(self, chain_id: int, token: str, market: Mapping[str, str]) -> dict[str, Any]:
        """The wire form of `build(...)`."""
        return self.build(chain_id, token, market).wire()
