"""Bounded, coalescing outbox between the sink and the socket.io client (pure).

Candles are keyed by (token, interval, bucket): a newer version replaces an unsent older one,
which is what a chart wants and bounds memory by the number of live candles, not trades.
Market snapshots are keyed by token the same way: only the latest unsent one is pushed.
Overflow is never silent: it is counted, reported by `dropped`, and logged by the client.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Any

import orjson

from ..alerts.events import is_alert_event
from ..candles.intervals import label
from ..candles.output import TokenOutput


class CandleMessage(dict[str, Any]):
    """A candle push message (serialized as the dict it is), knowing its outbox key: its candle
    may be a `candle_json` fragment, which cannot be read back.

    Built by `dict`'s own constructor, then keyed: about ten are made per update, and a Python
    `__init__` with keyword arguments tripled their cost."""

    __slots__ = ("key",)
    key: tuple[str, str, int]


class Outbox:
    def __init__(self, max_items: int, markets: bool = True) -> None:
        self.max_items = max_items
        self.push_markets = markets
        self.candles: OrderedDict[tuple[str, str, int], CandleMessage] = OrderedDict()
        self.trades: deque[dict[str, Any]] = deque()
        self.markets: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.dropped_candles = 0
        self.dropped_trades = 0
        self.dropped_markets = 0
        # Alert events (`alerts.events`) by kind, as the JSON they are: relayed to the owner's room.
        self.alerts: deque[tuple[str, orjson.Fragment]] = deque()
        self.dropped_alerts = 0

    def __len__(self) -> int:
        """Candles and trades; market snapshots, one per token at most, have a bound of their own."""
        return len(self.candles) + len(self.trades)

    def add_update(self, update: TokenOutput | dict[str, Any]) -> None:
        """A sink's output, or its wire form; a `TokenOutput`'s candles go as the JSON they are."""
        if isinstance(update, TokenOutput):
            chain, token, correction = update.chain_id, update.token, update.correction
            deleted = [(label(s), t) for s, t in update.deleted]
            candles: list[tuple[str, int, Any]] = [(label(s), t, orjson.Fragment(m)) for s, t, m in update.candles]
            trades = update.trades_wire()
            # The market as last shown (a settle moved no field): not pushed again.
            market: Any = None if update.market is update.base else update.market_wire()
            for ev in update.events:
                if is_alert_event(ev):
                    kind = "alert_retracted" if b'"type":"alert_retracted"' in ev else "alert"
                    self.alerts.append((kind, orjson.Fragment(ev)))
        else:
            chain, token, correction = update["chain_id"], update["token"], bool(update.get("correction"))
            deleted = [(i, t) for i, buckets in (update.get("deleted") or {}).items() for t in buckets]
            candles = [(i, c["t"], c) for i, cs in update["candles"].items() for c in cs]
            trades = update.get("trades") or []
            market = update.get("market")
        queued = self.candles
        for interval, t in deleted:
            key = (token, interval, t)
            queued.pop(key, None)
            # An emptied bucket is pushed as a correction with no trades and deleted=true.
            msg = CandleMessage(chain_id=chain, token=token, interval=interval, correction=True,
                                deleted=True, candle={"t": t, "trades": 0})
            msg.key = key
            queued[key] = msg
        for interval, t, candle in candles:
            key = (token, interval, t)
            prev = queued.pop(key, None)
            # A correction stays marked as one until it is sent, even if newer data follows.
            msg = CandleMessage(chain_id=chain, token=token, interval=interval,
                                correction=correction or (prev is not None and bool(prev.get("correction"))),
                                candle=candle)
            msg.key = key
            queued[key] = msg
        # New trades, and removed ones as {..., "removed": true}, in chain-event order.
        self.trades.extend(trades)
        if self.push_markets and market is not None:
            self.markets.pop(token, None)
            self.markets[token] = {"chain_id": chain, "token": token, "market": market}
        self._bound()

    def requeue(self, candles: list[CandleMessage], trades: list[dict[str, Any]]) -> None:
        """Put back what could not be sent, ahead of anything newer for the same key."""
        for msg in reversed(candles):
            key = msg.key
            if key not in self.candles:
                self.candles[key] = msg
                self.candles.move_to_end(key, last=False)
            elif msg.get("correction"):
                # The newer version is what to show, but the client must still learn it corrects.
                self.candles[key]["correction"] = True
        self.trades.extendleft(reversed(trades))
        self._bound()

    def drain(self) -> tuple[list[CandleMessage], list[dict[str, Any]]]:
        candles = list(self.candles.values())
        trades = list(self.trades)
        self.candles.clear()
        self.trades.clear()
        return candles, trades

    def drain_markets(self) -> list[dict[str, Any]]:
        markets = list(self.markets.values())
        self.markets.clear()
        return markets

    def requeue_markets(self, markets: list[dict[str, Any]]) -> None:
        for msg in reversed(markets):
            if msg["token"] not in self.markets:
                self.markets[msg["token"]] = msg
                self.markets.move_to_end(msg["token"], last=False)
        self._bound()

    def drain_alerts(self) -> list[tuple[str, orjson.Fragment]]:
        alerts = list(self.alerts)
        self.alerts.clear()
        return alerts

    def requeue_alerts(self, alerts: list[tuple[str, orjson.Fragment]]) -> None:
        self.alerts.extendleft(reversed(alerts))
        self._bound()

    def _bound(self) -> None:
        while len(self.alerts) > self.max_items:
            self.alerts.popleft()
            self.dropped_alerts += 1
        while len(self.trades) and len(self) > self.max_items:
            self.trades.popleft()
            self.dropped_trades += 1
        while len(self.candles) > self.max_items:
            self.candles.popitem(last=False)
            self.dropped_candles += 1
        while len(self.markets) > self.max_items:
            self.markets.popitem(last=False)  # the oldest snapshots: a newer one follows with the next change
            self.dropped_markets += 1

    @property
    def dropped(self) -> int:
        return self.dropped_candles + self.dropped_trades + self.dropped_markets + self.dropped_alerts
