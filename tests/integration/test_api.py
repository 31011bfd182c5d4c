"""The read side on the real stack: after edge-timed trades across interval edges, /v1 candles
and /udf/history for every interval equal a recomputation from the chain's logs."""

from __future__ import annotations

import random
from typing import Any

from pads_stream.api.udf import resolution

from . import oracle
from .api_stack import INTERVALS, Api, api  # noqa: F401  (the fixture)
from .conftest import Deployment
from .driver import drive, next_boundary
from .test_pipeline import assert_exact

RESOLUTION = {label: resolution(seconds) for label, seconds in oracle.INTERVALS.items()}
FAR = 2**40


def udf_columns(candles: list[dict[str, Any]]) -> dict[str, Any]:
    """What /udf/history must answer for these candles: IEEE doubles of the exact strings."""
    return {"s": "ok", "t": [c["t"] for c in candles], "o": [float(c["open"]) for c in candles],
            "h": [float(c["high"]) for c in candles], "l": [float(c["low"]) for c in candles],
            "c": [float(c["close"]) for c in candles],
            "v": [int(c["volume_token"]) / 10**18 for c in candles]}


def filled(candles: list[dict[str, Any]], seconds: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for c in candles:
        if out:
            prev = out[-1]
            for t in range(prev["t"] + seconds, c["t"], seconds):
                out.append({"t": t, "open": prev["close"], "high": prev["close"], "low": prev["close"],
                            "close": prev["close"], "volume_token": "0", "volume_eth": "0", "trades": 0, "buys": 0,
                            "sells": 0, "final": c["final"], "filled": True})
                prev = out[-1]
        out.append(c)
    return out


def test_candles_and_udf_history_equal_the_chain_for_every_interval(deployment: Deployment, api: Api) -> None:  # noqa: F811
    d = deployment
    rng = random.Random(15)
    curves = [d.pad.create_curve(f"Api {i}", f"API{i}") for i in range(2)]
    now = d.pad.w3.eth.get_block("latest")["timestamp"]
    d.start_bridge()
    d.start_worker(OHLCV_INTERVALS=INTERVALS)
    # 150 s before a 4-hour boundary, never before the chain's latest block.
    start = next_boundary(now + 150, 14400) - 150
    drive(d.pad, curves, 90, start, rng, jump_to=next_boundary(start, 86400))
    trades = oracle.chain_trades(d.pad.w3, d.env["BONDING_CURVE_FACTORY_ADDRESS"])
    for seconds in (60, 3600, 14400, 86400):
        assert len({t.ts - t.ts % seconds for t in trades}) > 1, f"trades never cross a {seconds}s edge"
    expected = assert_exact(d)

    for c in curves:
        for label, res in RESOLUTION.items():
            want = [expected[(c.token, label)][t] for t in sorted(expected[(c.token, label)])]
            got = api.ok(f"/v1/tokens/{c.token}/candles?interval={label}")
            assert got["candles"] == want, f"{c.token} {label}"
            assert api.ok(f"/udf/history?symbol={c.token}&resolution={res}&from=0&to={FAR}") == udf_columns(want)
            # countback wins over from: the newest two bars before `to`
            last = want[-1]["t"]
            assert api.ok(f"/udf/history?symbol={c.token}&resolution={res}&from={last}&to={last}&countback=2") == \
                udf_columns(want[-3:-1])
            assert api.ok(f"/v1/tokens/{c.token}/candles?interval={label}&countback=2")["candles"] == want[-2:]
            # the start of history: nothing before the first bar, so no nextTime (the library stops asking)
            first = want[0]["t"]
            assert api.ok(f"/udf/history?symbol={c.token}&resolution={res}&from=0&to={first}") == {"s": "no_data"}
            # a range after the newest bar: no_data pointing at the newest bar
            assert api.ok(f"/udf/history?symbol={c.token}&resolution={res}&from={last + 1}&to={FAR}") == \
                {"s": "no_data", "nextTime": last}
        one = [expected[(c.token, "1m")][t] for t in sorted(expected[(c.token, "1m")])]
        got = api.ok(f"/v1/tokens/{c.token}/candles?interval=1m&fill=true&countback=1500")["candles"]
        assert got == filled(one, 60)[-1500:]
        mine = [t for t in trades if t.token == c.token]
        tape = api.ok(f"/v1/tokens/{c.token}/trades?limit=500")["trades"]
        assert [(t["block_number"], t["log_index"]) for t in tape] == [(t.block, t.log_index) for t in reversed(mine)]
        market = api.ok(f"/v1/tokens/{c.token}")["market"]
        assert market["symbol"] == c.symbol and market["trades"] == str(len(mine))
        assert api.ok(f"/udf/symbols?symbol={c.symbol}")["ticker"] == c.token

    listed = api.ok("/v1/tokens?sort=created")["tokens"]
    assert [t["token"] for t in listed] == [c.token for c in reversed(curves)]
    status, body = api.get(f"/v1/tokens/0x{'ee' * 20}/candles?interval=1m")
    assert status == 404 and body["param"] == "token"
