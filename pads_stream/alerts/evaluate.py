"""When a rule fires (docs/alerts-design.md): pure edge tests on the hot path of the fold.

Every condition is evaluated before and after a chain event of the token, at the same chain
time, and fires on the edge false -> true: nothing is remembered between events, a reorg
needs no undo, and a rule re-arms once a later event took the condition back to false.
Plain attribute access and no allocation when nothing fires: the fold calls this per trade.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from ..price import format_price
from .fields import eth_text
from .index import RuleIndex
from .rules import Rule

__all__ = ["Observation", "RuleIndex", "fires_on_created", "fires_on_graduated", "fires_on_trade"]

TRADE_TYPES = frozenset({"price_above", "price_below", "change", "volume", "large_trade", "progress"})


class Observation:
    """A token as one side of an event sees it. The window values cost a walk of the token's
    activity, so they are callables asked only by a rule that needs them, once per window."""

    __slots__ = ("price", "progress", "_volume_eth", "_change", "_volumes", "_changes")

    def __init__(self, price: Decimal | None, progress: Decimal,
                 volume_eth: Callable[[int], int] | None = None,
                 change: Callable[[int], Decimal] | None = None) -> None:
        self.price = price
        self.progress = progress
        self._volume_eth = volume_eth
        self._change = change
        self._volumes: dict[int, int] | None = None
        self._changes: dict[int, Decimal] | None = None

    def volume_eth(self, window: int) -> int:
        """volume_eth_{W} in wei (0 when the caller gave no window values)."""
        if self._volumes is None:
            self._volumes = {}
        got = self._volumes.get(window)
        if got is None:
            got = self._volumes[window] = self._volume_eth(window) if self._volume_eth is not None else 0
        return got

    def change(self, window: int) -> Decimal:
        """change_{W} in percent, signed (0 when the caller gave no window values)."""
        if self._changes is None:
            self._changes = {}
        got = self._changes.get(window)
        if got is None:
            got = self._changes[window] = self._change(window) if self._change is not None else Decimal(0)
        return got


def _price_above(rule: Rule, before: Observation, after: Observation, eth_amount: int) -> str | None:
    b, a, x = before.price, after.price, rule.level
    # A token's first trade has no price before it: nothing crosses.
    if b is not None and a is not None and x is not None and b < x <= a:
        return format_price(a)
    return None


def _price_below(rule: Rule, before: Observation, after: Observation, eth_amount: int) -> str | None:
    b, a, x = before.price, after.price, rule.level
    if b is not None and a is not None and x is not None and b > x >= a:
        return format_price(a)
    return None


def _change(rule: Rule, before: Observation, after: Observation, eth_amount: int) -> str | None:
    p, w = rule.level, rule.window
    if p is None or w is None:
        return None
    a = after.change(w)
    if abs(a) >= p and abs(before.change(w)) < p:
        return format_price(a)
    return None


def _volume(rule: Rule, before: Observation, after: Observation, eth_amount: int) -> str | None:
    v, w = rule.wei, rule.window
    if v is None or w is None:
        return None
    a = after.volume_eth(w)
    if a >= v and before.volume_eth(w) < v:
        return eth_text(a)
    return None


def _large_trade(rule: Rule, before: Observation, after: Observation, eth_amount: int) -> str | None:
    n = rule.wei
    return eth_text(eth_amount) if n is not None and eth_amount >= n else None


def _progress(rule: Rule, before: Observation, after: Observation, eth_amount: int) -> str | None:
    p = rule.level
    if p is not None and before.progress < p <= after.progress:
        return format_price(after.progress)
    return None


_ON_TRADE: dict[str, Callable[[Rule, Observation, Observation, int], str | None]] = {
    "price_above": _price_above, "price_below": _price_below, "change": _change, "volume": _volume,
    "large_trade": _large_trade, "progress": _progress,
}


# Public for callers that look a rule's test up once, not per trade (`candles.events`).
TRADE_TESTS = _ON_TRADE


def fires_on_trade(rule: Rule, before: Observation, after: Observation, eth_amount: int) -> str | None:
    """The observed value as text (price, percent or ETH) when the trade fires the rule, else None.
    The token is not checked here: `RuleIndex.for_token` chose the rules."""
    test = _ON_TRADE.get(rule.type)
    return None if test is None else test(rule, before, after, eth_amount)


def fires_on_created(rule: Rule, creator: str) -> bool:
    """A CurveCreated log fires a new_token rule of its (lower-case) creator."""
    return rule.type == "new_token" and rule.creator == creator


def fires_on_graduated(rule: Rule) -> bool:
    """A Graduated log of a token `RuleIndex.for_graduated` chose the rule for."""
    return rule.type == "graduated"
