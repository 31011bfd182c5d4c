"""TokenState <-> bytes for the RocksDB table and its changelog (pure, deterministic).

Amounts are strings because wei exceeds JSON's 64-bit integers; keys are sorted so the same
state always has the same bytes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

from .fold import Candle
from .price import format_price
from .state import Pending, TokenState


def _candle(c: Candle) -> list[Any]:
    return [c.t, format_price(c.open), format_price(c.high), format_price(c.low), format_price(c.close),
            str(c.volume_token), str(c.volume_eth), c.trades, c.buys, c.sells]


def _uncandle(v: list[Any]) -> Candle:
    return Candle(v[0], Decimal(v[1]), Decimal(v[2]), Decimal(v[3]), Decimal(v[4]), int(v[5]), int(v[6]),
                  v[7], v[8], v[9])


def _pending(p: Pending) -> bytes:
    if p.encoded is None:
        p.encoded = orjson.dumps([p.block, p.log_index, p.block_hash, p.ts, p.is_buy, str(p.token_amount),
                                  str(p.eth_amount), str(p.virtual_eth), str(p.virtual_token)])
    return p.encoded


def _unpending(v: list[Any]) -> Pending:
    # Values written before 2026-11 carry trader and tx hash after these: ignored.
    return Pending(v[0], v[1], v[2], v[3], v[4], int(v[5]), int(v[6]), int(v[7]), int(v[8]))


def _cursor(c: list[int] | None) -> tuple[int, int] | None:
    return (c[0], c[1]) if c else None


def encode_state(state: TokenState) -> bytes:
    return orjson.dumps({
        "c": list(state.cursor) if state.cursor else None,
        "o": state.offset,
        "sc": list(state.settled_cursor) if state.settled_cursor else None,
        "s": {str(s): _candle(c) for s, c in sorted(state.settled.items())},
        "sm": state.settled_market,
        # The same bytes as a list of the items, from each item's cached encoding.
        "p": orjson.Fragment(b"[" + b",".join([_pending(p) for p in state.pending]) + b"]"),
        "k": {str(s): _candle(c) for s, c in sorted(state.candles.items())},
        "m": state.meta,
    }, option=orjson.OPT_SORT_KEYS)


def decode_state(payload: bytes | None) -> TokenState:
    if not payload:
        return TokenState()
    d = orjson.loads(payload)
    state = TokenState(
        cursor=_cursor(d["c"]),
        offset=d["o"],
        settled_cursor=_cursor(d["sc"]),
        settled={int(s): _uncandle(v) for s, v in d["s"].items()},
        settled_market=dict(d["sm"]),
        pending=[_unpending(v) for v in d["p"]],
        candles={int(s): _uncandle(v) for s, v in d["k"].items()},
        meta=dict(d["m"]),
    )
    state.sum_pending()
    return state


def encode_tokens(tokens: set[bytes]) -> bytes:
    return orjson.dumps(sorted(t.decode() for t in tokens))


def decode_tokens(payload: bytes | None) -> set[bytes]:
    return {t.encode() for t in orjson.loads(payload)} if payload else set()
