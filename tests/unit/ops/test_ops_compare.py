"""check's report: each kind of difference with Redis on its own line, and none for equal data."""

from __future__ import annotations

import orjson

from pads_stream.ops.compare import compare, summary
from pads_stream.ops.recompute import Expected

TOKEN = "0xaa"


def member(c: dict[str, object]) -> bytes:
    return orjson.dumps(c, option=orjson.OPT_SORT_KEYS)


def candle(t: int, **kw: object) -> dict[str, object]:
    c: dict[str, object] = {"t": t, "open": "1", "high": "2", "low": "0.5", "close": "1.5", "volume_token": "10",
                            "volume_eth": "12", "trades": 3, "buys": 2, "sells": 1, "final": False}
    c.update(kw)
    return c


def expected() -> Expected:
    return Expected({(TOKEN, "1m"): {60: candle(60), 120: candle(120, final=True)}},
                    {TOKEN: {"price": "1.5", "last_trade_block": "9", "last_trade_at": "130", "trades": "3", "name": "X",
                             "volume_eth": "99"}},
                    trades=3, finalized=8, undecodable=0)


def redis_like() -> tuple[dict[tuple[str, str], list[tuple[bytes, float]]], dict[str, dict[str, str]]]:
    return ({(TOKEN, "1m"): [(member(candle(60)), 60.0), (member(candle(120, final=True)), 120.0)]},
            {TOKEN: {"price": "1.5", "last_trade_block": "9", "last_trade_at": "130", "trades": "3", "name": "X",
                     "volume_eth": "99"}})


def test_equal_data_has_no_difference() -> None:
    assert compare(expected(), *redis_like()) == []
    assert summary(expected(), 0) == "checked 3 trades, 1 tokens, 2 candles: 0 differences"


def test_field_difference_names_field_expected_and_actual() -> None:
    candles, markets = redis_like()
    candles[(TOKEN, "1m")][0] = (member(candle(60, high="2.5")), 60.0)
    assert compare(expected(), candles, markets) == [f'candle {TOKEN} 1m t=60 high: expected "2" vs actual "2.5"']


def test_final_flag_and_types_are_compared_exactly() -> None:
    candles, markets = redis_like()
    candles[(TOKEN, "1m")][1] = (member(candle(120, final=False, trades="3")), 120.0)
    assert compare(expected(), candles, markets) == [
        f"candle {TOKEN} 1m t=120 final: expected true vs actual false",
        f'candle {TOKEN} 1m t=120 trades: expected 3 vs actual "3"',
    ]


def test_missing_extra_and_duplicate_buckets() -> None:
    candles, markets = redis_like()
    candles[(TOKEN, "1m")] = [(member(candle(60)), 60.0), (member(candle(60)), 60.0), (member(candle(180)), 180.0)]
    candles[(TOKEN, "5m")] = [(member(candle(0)), 0.0)]
    lines = compare(expected(), candles, markets)
    assert lines == [
        f"candle {TOKEN} 1m t=60: more than one member for the bucket",
        f"missing candle {TOKEN} 1m t=120: expected {member(candle(120, final=True)).decode()}",
        f"extra candle {TOKEN} 1m t=180: {member(candle(180)).decode()}",
        f"extra candle {TOKEN} 5m t=0: {member(candle(0)).decode()}",
    ]


def test_bad_members_and_scores() -> None:
    candles, markets = redis_like()
    candles[(TOKEN, "1m")] = [(member(candle(60)), 61.0), (b"not json", 120.0)]
    lines = compare(expected(), candles, markets)
    assert lines[0] == f"candle {TOKEN} 1m t=60: score 61 differs from t"
    assert lines[1].startswith(f"bad member {TOKEN} 1m score=120: ")
    assert lines[2].startswith(f"missing candle {TOKEN} 1m t=120")


def test_market_fields() -> None:
    candles, markets = redis_like()
    markets[TOKEN]["price"] = "1.4"
    del markets[TOKEN]["trades"]
    markets["0xbb"] = {"name": "only metadata"}
    markets["0xcc"] = {"price": "7"}
    # Every field of the market hash is compared, metadata too (a token the chain never
    # created has no name).
    assert compare(expected(), candles, markets) == [
        f'market {TOKEN} price: expected "1.5" vs actual "1.4"',
        f'market {TOKEN} trades: expected "3" vs actual (absent)',
        'market 0xbb name: expected (absent) vs actual "only metadata"',
        'market 0xcc price: expected (absent) vs actual "7"',
    ]
    assert summary(expected(), 1).endswith(": 1 difference")
