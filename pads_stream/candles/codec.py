"""TokenState <-> bytes for the RocksDB table and its changelog (pure, deterministic).

Amounts are strings because wei exceeds JSON's 64-bit integers; keys are sorted so the same
state always has the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson

from ..alerts.evaluate import RuleIndex
from ..alerts.rules import Rule, shared_rule_record
from ..decode.events import LogRef, TradeEvent
from ..jsonbytes import dumps
from .fold import Candle
from .market import TokenInfo, TradeTotals
from .price import format_price, trade_price
from .state import PendingBlock, TokenState, add_pending
from .windows import Activity, Minute


def _candle(c: Candle) -> list[Any]:
    return [c.t, format_price(c.open), format_price(c.high), format_price(c.low), format_price(c.close),
            str(c.volume_token), str(c.volume_eth), c.trades, c.buys, c.sells]


def _uncandle(v: list[Any]) -> Candle:
    return Candle(v[0], Decimal(v[1]), Decimal(v[2]), Decimal(v[3]), Decimal(v[4]), int(v[5]), int(v[6]),
                  v[7], v[8], v[9])


def _pending(pb: PendingBlock) -> bytes:
    if pb.encoded is None:
        pb.encoded = dumps([pb.block, pb.block_hash, pb.indexes, _candle(pb.part), str(pb.virtual_eth),
                            str(pb.virtual_token), pb.traders])
    return pb.encoded


def _minute(m: Minute) -> bytes:
    if m.encoded is None:
        m.encoded = dumps([m.t, format_price(m.open), format_price(m.high), format_price(m.low), format_price(m.close),
                           m.trades, m.buys, m.sells, str(m.volume_eth), str(m.volume_token)])
    return m.encoded


def _activity(a: Activity) -> dict[str, Any]:
    return {"m": orjson.Fragment(b"[" + b",".join([_minute(m) for m in a.minutes]) + b"]"),
            "b": None if a.before is None else format_price(a.before), "t": a.traders,
            "a": None if a.ath is None else [format_price(a.ath), a.ath_at]}


def _unactivity(d: dict[str, Any] | None) -> Activity:
    if not d:  # written before windows existed
        return Activity()
    return Activity([Minute(v[0], Decimal(v[1]), Decimal(v[2]), Decimal(v[3]), Decimal(v[4]), int(v[9]), int(v[8]),
                            v[5], v[6], v[7]) for v in d["m"]],
                    None if d["b"] is None else Decimal(d["b"]), dict(d["t"]),
                    None if d["a"] is None else Decimal(d["a"][0]), None if d["a"] is None else d["a"][1])


def _unpending(values: list[list[Any]]) -> list[PendingBlock]:
    blocks: list[PendingBlock] = []
    for v in values:
        if isinstance(v[1], str):
            blocks.append(PendingBlock(v[0], v[1], v[2], _uncandle(v[3]), int(v[4]), int(v[5]),
                                       v[6] if len(v) > 6 else []))
            continue
        # Written before 2026-11-25: one entry per trade (block, log index, hash, ts, is_buy, token amount,
        # eth amount, reserves[, trader, tx hash]); fold them into their blocks.
        ref = LogRef(0, "", v[0], v[2], v[3], "", v[1], False)
        trade = TradeEvent("", v[9] if len(v) > 9 else "", v[4], int(v[5]), int(v[6]), int(v[7]), int(v[8]), ref)
        add_pending(blocks, trade, trade_price(trade.eth_amount, trade.token_amount))
    for b in blocks:  # traders unknown in the oldest values: not counted in traders_{W}
        b.traders = [t for t in b.traders if t]
    return blocks


def _cursor(c: list[int] | None) -> tuple[int, int] | None:
    return (c[0], c[1]) if c else None


def encode_state(state: TokenState) -> bytes:
    assert state.tail is None, "trades not folded into the open candles (state.fold_tail)"
    d: dict[str, Any] = {
        "c": list(state.cursor) if state.cursor else None,
        "o": state.offset,
        "sc": list(state.settled_cursor) if state.settled_cursor else None,
        "s": {str(s): _candle(c) for s, c in sorted(state.settled.items())},
        "sm": state.settled_market.wire(),
        # The same bytes as a list of the items, from each item's cached encoding.
        "p": orjson.Fragment(b"[" + b",".join([_pending(p) for p in state.pending]) + b"]"),
        "k": {str(s): _candle(c) for s, c in sorted(state.candles.items())},
        "m": state.info.wire(),
        "r": [[b, h, i] for b, h, i in state.orphaned],
        "w": _activity(state.activity),
    }
    if state.events:  # absent when empty: a state without events keeps its bytes
        d["e"] = state.events
    if state.once:
        d["n"] = state.once
    return dumps(d, option=orjson.OPT_SORT_KEYS)


def encode_rules(index: RuleIndex) -> bytes:
    """A partition's rules as their raw-log records, by id: what `decode_rules` reads back. The
    records say chain 0: a worker's table is of one chain already."""
    return dumps([orjson.Fragment(_record(r)) for r in sorted(index, key=lambda r: r.id)])


_RECORDS: dict[int, tuple[Rule, bytes]] = {}


def _record(rule: Rule) -> bytes:
    # A partition's rules are rewritten whole when one changes: 10,000 rules published one
    # after another would encode each rule thousands of times. By identity: partitions share
    # one Rule per record (`shared_rule_record`), and the entry holds it, so its id is not reused.
    got = _RECORDS.get(id(rule))
    if got is None or got[0] is not rule:
        if len(_RECORDS) >= 1 << 16:
            _RECORDS.clear()
        got = _RECORDS[id(rule)] = (rule, rule.raw_record(0))
    return got[1]


def decode_rules(payload: bytes | None) -> RuleIndex:
    index = RuleIndex()
    for d in orjson.loads(payload) if payload else ():
        _, rule = shared_rule_record(orjson.dumps(d))
        if rule is not None:
            index.add(rule)
    return index


def decode_state(payload: bytes | None) -> TokenState:
    if not payload:
        return TokenState()
    d = orjson.loads(payload)
    state = TokenState(
        cursor=_cursor(d["c"]),
        offset=d["o"],
        settled_cursor=_cursor(d["sc"]),
        settled={int(s): _uncandle(v) for s, v in d["s"].items()},
        settled_market=TradeTotals.from_wire(d["sm"]),
        pending=_unpending(d["p"]),
        candles={int(s): _uncandle(v) for s, v in d["k"].items()},
        info=TokenInfo.from_wire(d["m"]),
        orphaned=[(b, h, i) for b, h, i in d.get("r", ())],
        activity=_unactivity(d.get("w")),
        events=d.get("e", []),
        once=d.get("n", []),
    )
    return state


def encode_pending(oldest: dict[bytes, int]) -> bytes:
    """A partition's tokens with pending trades, each with its oldest pending block."""
    return dumps({t.decode(): b for t, b in oldest.items()}, option=orjson.OPT_SORT_KEYS)


def decode_pending(payload: bytes | None) -> dict[bytes, int]:
    if not payload:
        return {}
    d = orjson.loads(payload)
    if isinstance(d, list):  # written before 2026-11-25, tokens only: -1 settles each at the next marker
        return {t.encode(): -1 for t in d}
    return {t.encode(): b for t, b in d.items()}


class Deferred:
    """A table value encoded when the write-behind buffer writes it, from the object as it is
    then: a hot token's state changes in every batch, and only its last value before a flush
    is written. Valid because states change only in batches that then complete, and a
    failed batch empties the buffer with the cache."""

    __slots__ = ("encode", "obj")

    def __init__(self, encode: Callable[[Any], bytes], obj: Any) -> None:
        self.encode, self.obj = encode, obj

    def __call__(self) -> bytes:
        return self.encode(self.obj)


TableValue = bytes | Deferred | None


def resolve(value: TableValue) -> bytes | None:
    return value() if isinstance(value, Deferred) else value
