"""What Redis should hold, recomputed from raw-log messages alone (pure).

The canonical log set: a log's identity is (block_hash, log_index); a `removed` message
cancels the log with the same identity seen before it, a repeated message counts once. The
bridge keys every log by its contract, so all messages about one log are on one partition
and arrive in order: feeding partitions one after the other is enough.

Trades are folded in (block_number, log_index) order with the same fold()/trade_price() as
the worker. A candle is final iff all its trades are at or below F, the largest
finalized_block of any head marker (-1 when there is none).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..candles.fold import Candle, fold
from ..candles.intervals import bucket_start, label
from ..candles.market import Market, MarketParams, TokenInfo, TradeTotals
from ..candles.output import public_candle
from ..candles.price import trade_price
from ..candles.state import PendingBlock, add_pending, apply_curve_created_info, apply_graduated_info
from ..candles.windows import Activity, window_stats
from ..chain.rawlog import HeadMarker, RawLog
from ..decode.events import CurveCreatedEvent, TradeEvent, decode_log
from ..errors import DecodeError


@dataclass
class LogSet:
    chain_id: int
    finalized: int = -1
    time: int = -1  # chain time: the latest head marker's block timestamp
    other_chain: int = 0
    _live: dict[tuple[str, int], RawLog] = field(default_factory=dict)

    def add(self, msg: RawLog | HeadMarker) -> None:
        if msg.chain_id != self.chain_id:
            self.other_chain += 1  # the worker dead-letters these
            return
        if isinstance(msg, HeadMarker):
            self.finalized = max(self.finalized, msg.finalized_block)
            if msg.block_timestamp is not None:
                self.time = max(self.time, msg.block_timestamp)
            return
        ident = (msg.block_hash, msg.log_index)
        if msg.removed:
            self._live.pop(ident, None)
        else:
            self._live.setdefault(ident, msg)

    def ordered(self) -> list[RawLog]:
        # block_hash only breaks ties between two logs at one position (a reorg whose
        # removal never reached the topic), so the order is still deterministic.
        return sorted(self._live.values(), key=lambda lg: (lg.block_number, lg.log_index, lg.block_hash))


@dataclass
class Expected:
    """candles: (token, interval label) -> bucket -> public candle (with `final`);
    markets: token -> its market hash (every field of `candles.market.MARKET_FIELDS`)."""

    candles: dict[tuple[str, str], dict[int, dict[str, Any]]]
    markets: dict[str, dict[str, str]]
    trades: int
    finalized: int
    undecodable: int

    @property
    def candle_count(self) -> int:
        return sum(len(b) for b in self.candles.values())


def recompute(logs: Iterable[RawLog], finalized: int, intervals: tuple[int, ...],
              params: MarketParams | None = None, time: int = -1, retention: dict[int, int] | None = None) -> Expected:
    """With `params`, markets have the windows at chain time `time` and the derived fields;
    with `retention`, a token keeps the buckets from its last final trade's time minus the
    interval's retention on."""
    folded: dict[tuple[str, int], dict[int, Candle]] = {}
    top: dict[tuple[str, int, int], int] = {}  # highest block in each candle, for `final`
    infos: dict[str, TokenInfo] = {}
    totals: dict[str, TradeTotals] = {}
    blocks: dict[str, list[PendingBlock]] = {}
    trades = undecodable = 0
    for log in logs:
        try:
            rec = decode_log(log)
        except DecodeError:
            undecodable += 1  # dead-lettered by the worker
            continue
        ref = rec.ref
        if isinstance(rec, CurveCreatedEvent):
            apply_curve_created_info(infos.setdefault(rec.token, TokenInfo()), rec)
            continue
        if not isinstance(rec, TradeEvent):
            apply_graduated_info(infos.setdefault(rec.token, TokenInfo()), rec)
            continue
        trades += 1
        price = trade_price(rec.eth_amount, rec.token_amount)
        for s in intervals:
            b = bucket_start(ref.block_timestamp, s)
            series = folded.setdefault((rec.token, s), {})
            series[b] = fold(series.get(b), b, price, rec.is_buy, rec.token_amount, rec.eth_amount)
            top[(rec.token, s, b)] = max(top.get((rec.token, s, b), -1), ref.block_number)
        t = totals.setdefault(rec.token, TradeTotals())
        t.last(price, ref.block_number, ref.log_index, ref.block_timestamp, rec.virtual_eth, rec.virtual_token)
        t.add(1, rec.eth_amount, rec.token_amount)
        add_pending(blocks.setdefault(rec.token, []), rec, price)
    markets = {}
    for tok in sorted(set(infos) | set(totals)):
        m = Market(infos.get(tok, TokenInfo()), totals.get(tok, TradeTotals()))
        if params is not None:
            activity = Activity()
            for block in blocks.get(tok, ()):
                activity.settle(block)
            at = max(time, m.totals.last_trade_at)
            m.windows = {w: window_stats(activity, [], at, w) for w in params.windows}
            m.ath, m.ath_at, m.params = activity.ath, activity.ath_at, params
        markets[tok] = m.wire()
    last_final: dict[str, int] = {}
    for tok, token_blocks in blocks.items():
        final = [b.ts for b in token_blocks if b.block <= finalized]
        if final:
            last_final[tok] = final[-1]
    keep = retention or {}
    candles = {(tok, label(s)): {b: public_candle(c, top[(tok, s, b)] <= finalized) for b, c in series.items()
                                 if s not in keep or tok not in last_final or b >= last_final[tok] - keep[s]}
               for (tok, s), series in folded.items()}
    return Expected(candles, markets, trades, finalized, undecodable)


def recompute_messages(messages: Iterable[RawLog | HeadMarker], chain_id: int, intervals: tuple[int, ...],
                       params: MarketParams | None = None, retention: dict[int, int] | None = None) -> Expected:
    logs = LogSet(chain_id)
    for m in messages:
        logs.add(m)
    return recompute(logs.ordered(), logs.finalized, intervals, params, logs.time, retention)
