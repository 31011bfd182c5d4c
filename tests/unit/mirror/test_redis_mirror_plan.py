"""Batch coalescing of the Redis mirror (pure `plan`), member encoding, keys and update messages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest

from pads_stream.candles.fold import Candle
from pads_stream.decode.events import LogRef, TradeEvent
from pads_stream.mirror.keys import candles_key, market_key, tokens_key, trade_score, trades_key
from pads_stream.mirror.redis_mirror import candle_member, plan
from pads_stream.mirror.updates import decode_update, encode_update, public_trade

A = "0x" + "aa" * 20
B = "0x" + "bb" * 20


def candle(t: int, close: str, trades: int = 1) -> Candle:
    p = Decimal(close)
    return Candle(t, p, p, p, p, 10**30, 10**20, trades, trades, 0)


def trade(block: int, log_index: int, token: str = A, chain: int = 1) -> TradeEvent:
    ref = LogRef(chain, "0x" + "cc" * 20, block, "0x" + "11" * 32, 1_700_000_000 + block, "0x" + "22" * 32,
                 log_index, False)
    return TradeEvent(token, "0x" + "dd" * 20, True, 3 * 10**18, 10**15, 1, 2, ref)


def update(token: str = A, chain: int = 1, market: dict[str, str] | None = None, tr: TradeEvent | None = None,
           candles: list[tuple[int, Candle]] | None = None) -> dict[str, Any]:
    """Through the real wire format, as the sink receives it."""
    return decode_update(encode_update(chain, token, market or {}, tr, candles))


def test_keys() -> None:
    assert candles_key(1, A, "1m") == f"pads:1:candles:{A}:1m"
    assert market_key(8453, A) == f"pads:8453:market:{A}"
    assert trades_key(1, A) == f"pads:1:trades:{A}"
    assert tokens_key(1) == "pads:1:tokens"
    assert trade_score(19_000_000, 12) == 1_900_000_000_012
    assert trade_score(5, 99_999) < trade_score(6, 0)


def test_update_wire_format() -> None:
    u = update(market={"price": "0.001"}, tr=trade(10, 2), candles=[(60, candle(120, "0.5")), (14400, candle(0, "2"))])
    assert set(u["candles"]) == {"1m", "4h"}
    assert u["candles"]["1m"] == candle(120, "0.5").to_public()
    assert u["trade"]["price"] == "0.000333333333333333333333333333333"
    assert u["trade"]["token_amount"] == str(3 * 10**18)
    assert u["trade"] == public_trade(trade(10, 2))
    assert update()["trade"] is None and update()["candles"] == {}


@pytest.mark.parametrize("payload", [b"[]", b"{}", b'{"chain_id": 1}', b"3"])
def test_decode_update_rejects_non_updates(payload: bytes) -> None:
    with pytest.raises(ValueError, match="not a candle update"):
        decode_update(payload)


def test_candle_member_is_canonical() -> None:
    pub = candle(60, "1.5").to_public()
    shuffled = dict(reversed(list(pub.items())))
    assert candle_member(pub) == candle_member(shuffled)
    assert list(orjson.loads(candle_member(shuffled))) == sorted(pub)
    assert orjson.loads(candle_member(pub)) == pub


def test_last_candle_per_key_and_bucket_wins() -> None:
    batch = [
        update(candles=[(60, candle(60, "1", trades=1)), (300, candle(0, "1", trades=1))]),
        update(candles=[(60, candle(60, "2", trades=2)), (300, candle(0, "2", trades=2))]),
        update(candles=[(60, candle(120, "3", trades=1)), (300, candle(0, "3", trades=3))]),
    ]
    candles, _, _, _ = plan(batch)
    k1, k5 = candles_key(1, A, "1m"), candles_key(1, A, "5m")
    assert set(candles) == {(k1, 60), (k1, 120), (k5, 0)}
    assert orjson.loads(candles[(k1, 60)])["close"] == "2" and orjson.loads(candles[(k1, 60)])["trades"] == 2
    assert orjson.loads(candles[(k1, 120)])["close"] == "3"
    assert candles[(k5, 0)] == candle_member(candle(0, "3", trades=3).to_public())


def test_tokens_and_chains_do_not_mix() -> None:
    batch = [
        update(A, 1, candles=[(60, candle(60, "1"))]),
        update(B, 1, candles=[(60, candle(60, "2"))]),
        update(A, 2, candles=[(60, candle(60, "3"))]),
    ]
    candles, markets, _, tokens = plan(batch)
    assert {k: orjson.loads(v)["close"] for k, v in candles.items()} == {
        (candles_key(1, A, "1m"), 60): "1", (candles_key(1, B, "1m"), 60): "2", (candles_key(2, A, "1m"), 60): "3"}
    assert set(markets) == {market_key(1, A), market_key(1, B), market_key(2, A)}
    assert tokens == {A: 2, B: 1}  # last chain seen for a token address


def test_market_fields_are_merged_last_value_wins() -> None:
    batch = [
        update(market={"name": "Pepe", "symbol": "PEPE", "price": "1", "trades": "1"}),
        update(market={"price": "2", "trades": "2"}),
        update(market={"graduated": "1"}),
        update(B, market={"price": "9"}),
    ]
    _, markets, _, _ = plan(batch)
    assert markets[market_key(1, A)] == {"name": "Pepe", "symbol": "PEPE", "price": "2", "trades": "2",
                                         "graduated": "1"}
    assert markets[market_key(1, B)] == {"price": "9"}


def test_trades_are_deduplicated_and_scored_by_chain_position() -> None:
    t1, t2 = trade(10, 3), trade(11, 0)
    batch = [update(tr=t1), update(tr=t2), update(tr=t1), update()]
    _, _, trades, _ = plan(batch)
    members = trades[trades_key(1, A)]
    assert members == {
        orjson.dumps(public_trade(t1), option=orjson.OPT_SORT_KEYS): trade_score(10, 3),
        orjson.dumps(public_trade(t2), option=orjson.OPT_SORT_KEYS): trade_score(11, 0),
    }


def test_empty_batch_and_update_without_trade() -> None:
    assert plan([]) == ({}, {}, {}, {})
    candles, markets, trades, tokens = plan([update()])
    assert candles == {} and trades == {} and markets == {market_key(1, A): {}} and tokens == {A: 1}


def test_plan_is_idempotent_over_a_repeated_batch() -> None:
    batch = [update(market={"price": str(i)}, tr=trade(i, 0), candles=[(60, candle(60 * (i // 3), str(i)))])
             for i in range(1, 10)]
    assert plan(batch + batch) == plan(batch)
