"""The rebuild of a wiped Redis (pure part): what live writes recorded since the wipe, and
what a rebuilt partition writes around them."""

from __future__ import annotations

from typing import Any

import orjson

from pads_stream.mirror.keys import candles_key, market_key, prefix, rank_key, tokens_key, trades_key
from pads_stream.mirror.redis_mirror import CANONICAL, plan
from pads_stream.mirror.repair import Written, repair_ops

P = prefix("pads", 1)
A, B = "0x" + "aa" * 20, "0x" + "bb" * 20
MARKET = {"price": "0.1", "curve_progress": "5", "created_at": "100", "market_cap_eth": "3", "volume_eth_5m": "0"}


def candle(t: int, close: str = "0.1") -> dict[str, Any]:
    return {"t": t, "open": close, "close": close, "trades": 1, "final": True}


def trade(block: int, index: int) -> dict[str, Any]:
    return {"chain_id": 1, "token": A, "block_number": block, "log_index": index, "price": "0.1"}


def rebuilt(written: Written) -> list[tuple[Any, ...]]:
    return repair_ops(P, {(A, "1m"): {60: candle(60), 120: candle(120), 180: candle(180)}},
                      {A: MARKET, B: {"name": "b"}}, {A: [trade(1, 0), trade(2, 0)]}, written, 500, CANONICAL)


def test_with_nothing_written_since_the_wipe_everything_is_rebuilt() -> None:
    got = rebuilt(Written())
    ck, tk = candles_key(P, A, "1m"), trades_key(P, A)
    assert [op[:3] for op in got if op[1] == ck] == [("z", ck, 60), ("z", ck, 120), ("z", ck, 180)]
    assert ("h", market_key(P, A), MARKET) in got and ("h", market_key(P, B), {"name": "b"}) in got
    assert ("a", rank_key(P, "created"), "100", A) in got and ("a", rank_key(P, "progress"), "5", A) in got
    assert not [op for op in got if op[1].startswith(f"{P}:rank:") and op[-1] == B]  # no derived fields, no ranks
    assert [op[2] for op in got if op[0] == "z" and op[1] == tk] == [100_000, 200_000]
    assert ("r", tk, 500) in got
    assert [op[2] for op in got if op[0] == "s"] == [A, B] and all(op[1] == tokens_key(P) for op in got if op[0] == "s")
    member = next(op[3] for op in got if op[:3] == ("z", ck, 60))
    assert orjson.loads(member) == candle(60) and member == orjson.dumps(candle(60), option=CANONICAL)


def test_what_live_writes_set_since_the_wipe_is_left_alone() -> None:
    written = Written()
    ck, tk = candles_key(P, A, "1m"), trades_key(P, A)
    # A live batch after the wipe: bucket 120 newer, bucket 60 deleted by a reorg, A's market,
    # the trade at (2, 0), and retention that moved the cutoff to 120.
    live = plan([{"chain_id": 1, "token": A, "candles": {"1m": [candle(120, "0.2")]}, "deleted": {"1m": [60]},
                  "trades": [trade(2, 0)], "market": MARKET, "expired": {"1m": 120}}])
    written.record(live[0], live[1], live[2], live.expired)
    got = rebuilt(written)
    assert [op[2] for op in got if op[0] == "z" and op[1] == ck] == [180]
    assert not [op for op in got if op[1] == market_key(P, A) or (op[1].startswith(f"{P}:rank:") and op[-1] == A)]
    assert ("h", market_key(P, B), {"name": "b"}) in got  # untouched by live writes: rebuilt
    assert [op[2] for op in got if op[0] == "z" and op[1] == tk] == [100_000]


def test_the_retention_cutoff_recorded_is_the_latest() -> None:
    w = Written()
    w.record({}, {}, {}, {"k": 120})
    w.record({}, {}, {}, {"k": 60})
    w.record({}, {}, {"t": {5: None}}, {"j": 10})
    assert w.expired == {"k": 120, "j": 10} and w.trades == {("t", 5)}
