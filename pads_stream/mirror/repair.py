"""Rebuilding what a wiped Redis lost (pure): which live writes came since, and what a rebuilt
partition then writes.

The mirror writes an epoch key with its data and checks it in every script call, so a Redis
that comes back empty (FLUSHALL, a new instance, a lost volume) is noticed by the first write
after it. The worker then rebuilds each of its partitions from the raw-log topic up to where
it had applied it, while it goes on writing new logs. A rebuilt value is at most as new as a
live one, so while a repair runs every live write is recorded (`Written`), and the rebuild
writes only what no live write touched since: the bucket, market, ranking, trade or
retention cutoff that live processing wrote is newer, whatever the rebuild computed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..candles.market import rank_scores
from ..jsonbytes import dumps
from .keys import candles_key, market_key, rank_key, tokens_key, trade_score, trades_key

Op = tuple[Any, ...]


@dataclass
class Written:
    """What live writes set (or deleted) since a wipe was noticed."""

    candles: set[tuple[str, int]] = field(default_factory=set)  # (candles key, bucket)
    expired: dict[str, int] = field(default_factory=dict)  # candles key -> latest retention cutoff
    markets: set[str] = field(default_factory=set)  # market keys (their rankings went with them)
    trades: set[tuple[str, int]] = field(default_factory=set)  # (trades key, score)

    def record(self, candles: Mapping[tuple[str, int], Any], markets: Mapping[str, Any],
               trades: Mapping[str, Mapping[int, Any]], expired: Mapping[str, int]) -> None:
        """A live write's plan (see `redis_mirror.plan`)."""
        self.candles.update(candles)
        self.markets.update(markets)
        for key, by_score in trades.items():
            self.trades.update((key, score) for score in by_score)
        for key, before in expired.items():
            if before > self.expired.get(key, before - 1):
                self.expired[key] = before


def repair_ops(pfx: str, candles: Mapping[tuple[str, str], Mapping[int, Mapping[str, Any]]],
               markets: Mapping[str, Mapping[str, str]], trades: Mapping[str, list[dict[str, Any]]],
               written: Written, keep_trades: int, canonical: int) -> list[Op]:
    """The mirror's ops for a rebuilt partition: `candles` (token, interval label) -> bucket ->
    public candle, `markets` token -> market hash, `trades` token -> its latest public trades;
    whatever `written` holds is left as live processing wrote it."""
    out: list[Op] = []
    for (token, interval), buckets in sorted(candles.items()):
        key = candles_key(pfx, token, interval)
        cutoff = written.expired.get(key)
        for t, candle in sorted(buckets.items()):
            if (key, t) not in written.candles and (cutoff is None or t >= cutoff):
                out.append(("z", key, t, dumps(candle, option=canonical)))
    for token, market in sorted(markets.items()):
        key = market_key(pfx, token)
        if key in written.markets:
            continue
        out.append(("h", key, dict(market)))
        for name, score in (rank_scores(market) or {}).items():
            out.append(("d", rank_key(pfx, name), token) if score is None else ("a", rank_key(pfx, name), score, token))
    for token, recent in sorted(trades.items()):
        key = trades_key(pfx, token)
        for trade in recent:
            at = trade_score(trade["block_number"], trade["log_index"])
            if (key, at) not in written.trades:
                out.append(("z", key, at, dumps(trade, option=canonical)))
        out.append(("r", key, keep_trades))
    out += [("s", tokens_key(pfx), token) for token in sorted(set(markets) | {tok for tok, _ in candles})]
    return out
