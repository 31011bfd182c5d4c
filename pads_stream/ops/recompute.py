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
from ..candles.price import format_price, trade_price
from ..chain.rawlog import HeadMarker, RawLog
from ..decode.events import TradeEvent, decode_log
from ..errors import DecodeError
from ..mirror.updates import public_candle

MARKET_FIELDS = ("price", "last_trade_block", "last_trade_at", "trades")


@dataclass
class LogSet:
    chain_id: int
    finalized: int = -1
    other_chain: int = 0
    _live: dict[tuple[str, int], RawLog] = field(default_factory=dict)

    def add(self, msg: RawLog | HeadMarker) -> None:
        if msg.chain_id != self.chain_id:
            self.other_chain += 1  # the worker dead-letters these
            return
        if isinstance(msg, HeadMarker):
            self.finalized = max(self.finalized, msg.finalized_block)
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
    markets: token -> the trade fields of its market hash."""

    candles: dict[tuple[str, str], dict[int, dict[str, Any]]]
    markets: dict[str, dict[str, str]]
    trades: int
    finalized: int
    undecodable: int

    @property
    def candle_count(self) -> int:
        return sum(len(b) for b in self.candles.values())


def recompute(logs: Iterable[RawLog], finalized: int, intervals: tuple[int, ...]) -> Expected:
    folded: dict[tuple[str, int], dict[int, Candle]] = {}
    top: dict[tuple[str, int, int], int] = {}  # highest block in each candle, for `final`
    markets: dict[str, dict[str, str]] = {}
    trades = undecodable = 0
    for log in logs:
        try:
            rec = decode_log(log)
        except DecodeError:
            undecodable += 1  # dead-lettered by the worker
            continue
        if not isinstance(rec, TradeEvent):
            continue  # CurveCreated / Graduated set market metadata, never candles
        trades += 1
        ref = rec.ref
        price = trade_price(rec.eth_amount, rec.token_amount)
        for s in intervals:
            b = bucket_start(ref.block_timestamp, s)
            series = folded.setdefault((rec.token, s), {})
            series[b] = fold(series.get(b), b, price, rec.is_buy, rec.token_amount, rec.eth_amount)
            top[(rec.token, s, b)] = max(top.get((rec.token, s, b), -1), ref.block_number)
        m = markets.setdefault(rec.token, {"trades": "0"})
        m.update(price=format_price(price), last_trade_block=str(ref.block_number),
                 last_trade_at=str(ref.block_timestamp), trades=str(int(m["trades"]) + 1))
    candles = {(tok, label(s)): {b: public_candle(c, top[(tok, s, b)] <= finalized) for b, c in series.items()}
               for (tok, s), series in folded.items()}
    return Expected(candles, markets, trades, finalized, undecodable)


def recompute_messages(messages: Iterable[RawLog | HeadMarker], chain_id: int,
                       intervals: tuple[int, ...]) -> Expected:
    logs = LogSet(chain_id)
    for m in messages:
        logs.add(m)
    return recompute(logs.ordered(), logs.finalized, intervals)
