"""The whole path on real services: anvil -> bridge -> Kafka -> Faust -> Redis -> socket.io."""

from __future__ import annotations

import random
from typing import Any

from . import oracle
from .conftest import Deployment, wait_for
from .driver import drive, next_boundary


def diff(expected: dict[Any, dict[int, Any]], actual: dict[Any, dict[int, Any]]) -> str:
    """First few differences, for a failure message that says what is wrong."""
    lines = []
    for key in sorted(set(expected) | set(actual)):
        e, a = expected.get(key, {}), actual.get(key, {})
        for t in sorted(set(e) | set(a)):
            if e.get(t) != a.get(t):
                lines.append(f"{key} t={t}: chain={e.get(t)} redis={a.get(t)}")
    return "\n".join(lines[:8]) + (f"\n... {len(lines)} differences" if len(lines) > 8 else "")


def latest_pushed(received: list[dict[str, Any]]) -> dict[tuple[str, str], dict[int, dict[str, Any]]]:
    out: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}
    for msg in received:
        series = out.setdefault((msg["token"], msg["interval"]), {})
        if msg.get("deleted"):
            series.pop(msg["candle"]["t"], None)
        else:
            series[msg["candle"]["t"]] = msg["candle"]
    return {k: v for k, v in out.items() if v}


def unexpired(pushed: dict[tuple[str, str], dict[int, Any]],
              kept: dict[tuple[str, str], dict[int, Any]]) -> dict[tuple[str, str], dict[int, Any]]:
    return {k: {t: c for t, c in v.items() if k not in kept or t >= min(kept[k])} for k, v in pushed.items()}


def assert_exact(d: Deployment, timeout: float = 120) -> dict[Any, Any]:
    """Redis equals the chain, including final flags: the bridge finalizes head - FINALITY_DEPTH."""
    finalized = d.pad.head() - int(d.env["FINALITY_DEPTH"])
    expected = oracle.expected_candles(oracle.chain_trades(d.pad.w3, d.env["BONDING_CURVE_FACTORY_ADDRESS"]), finalized)
    try:
        wait_for(lambda: d.redis_candles() == expected, timeout, "Redis candles to equal the chain's")
    except AssertionError:
        raise AssertionError("Redis candles differ from the chain:\n" + diff(expected, d.redis_candles())) from None
    return expected


def test_candles_equal_the_chain_and_reach_the_backend(deployment: Deployment) -> None:
    d = deployment
    rng = random.Random(20261124)
    curves = [d.pad.create_curve(f"Token {i}", f"TK{i}") for i in range(3)]
    now = d.pad.w3.eth.get_block("latest")["timestamp"]
    # 200 s before an hour boundary, and never before the chain's latest block.
    start = next_boundary(now + 200, 3600) - 200
    # The first third is mined before the bridge runs (backfill), the rest while it follows.
    ts = drive(d.pad, curves, 80, start, rng)
    d.start_bridge()
    d.start_worker()
    drive(d.pad, curves, 150, ts + 1, rng, jump_to=next_boundary(ts, 86400))

    trades = oracle.chain_trades(d.pad.w3, d.env["BONDING_CURVE_FACTORY_ADDRESS"])
    assert len(trades) >= 200
    assert {t.token for t in trades} == {c.token for c in curves}
    stamps = [t.ts for t in trades]
    for seconds in (60, 3600, 14400, 86400):
        assert len({s - s % seconds for s in stamps}) > 1, f"trades never cross a {seconds}s boundary"

    expected = assert_exact(d)
    assert set(expected) == {(c.token, label) for c in curves for label in oracle.INTERVALS}

    # Every bucket's final version was pushed to the Node backend (pushes are coalesced).
    # Buckets before a series' oldest in Redis were pushed, then left Redis by CANDLE_RETENTION
    # (by chain time: 1s buckets a day behind the last final trade); the push sends no deletion for them.
    wait_for(lambda: unexpired(latest_pushed(d.received("candle")), expected) == expected, 30,
             "pushed candles to equal Redis")
    on_chain = {(t.block, t.log_index) for t in trades}
    wait_for(lambda: {(t["block_number"], t["log_index"]) for t in d.received("trade")} == on_chain, 30,
             "pushed trades to equal the chain's")

    for c in curves:
        mine = [t for t in trades if t.token == c.token]
        market = {k.decode(): v.decode() for k, v in d.redis.hgetall(f"pads:{d.chain_id}:market:{c.token}").items()}
        assert market["price"] == oracle.fmt(oracle.Fraction(mine[-1].eth_amount, mine[-1].token_amount))
        assert market["last_trade_block"] == str(mine[-1].block)
        assert market["last_trade_at"] == str(mine[-1].ts)
        assert market["trades"] == str(len(mine))
        assert market["symbol"] == c.symbol and market["curve"] == c.curve


def test_contract_outside_the_factory_never_reaches_a_candle(deployment: Deployment) -> None:
    d = deployment
    curve = d.pad.create_curve("Real", "REAL")
    impostor = d.pad.deploy_impostor()
    d.start_bridge()
    d.start_worker()
    trader = d.pad.accounts[3]
    for i in range(3):
        d.pad.buy(curve, trader, (i + 1) * 10**17)
        tx = impostor.functions.fakeTrade(d.pad.w3.to_checksum_address(curve.token), 10**18, 10**30).transact({"from": trader})
        d.pad.w3.eth.wait_for_transaction_receipt(tx)
    d.pad.buy(curve, trader, 10**17)

    expected = assert_exact(d, timeout=60)
    assert sum(c["trades"] for c in expected[(curve.token, "1d")].values()) == 4
    from .driver import read_topic

    raw = read_topic(d.env["KAFKA_BOOTSTRAP_SERVERS"], d.env["RAW_LOG_TOPIC"])
    assert raw, "the bridge published nothing"
    assert impostor.address.lower().encode() not in {k for k, _ in raw}
