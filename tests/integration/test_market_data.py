"""Market data on the real stack: edge-timed trades, chain time moved past 5m, 1h and 24h
with empty blocks, and a reorg; each time every market field and ranking equals the
recomputation from the raw-log topic (`check`), and the window counts equal the chain's."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from stack.process import ROOT

from . import oracle
from .conftest import Deployment, wait_for
from .driver import next_boundary

WINDOWS = {"5m": 300, "1h": 3600, "6h": 21600, "24h": 86400}


def check_clean(d: Deployment) -> bool:
    env = {**os.environ, **d.env}
    out = subprocess.run([sys.executable, "-m", "pads_stream", "check", "--no-progress", "--limit", "20"], env=env,
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    return out.returncode == 0


def market(d: Deployment, token: str) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in d.redis.hgetall(f"pads:{d.chain_id}:market:{token}").items()}


def windows_match(d: Deployment, tokens: list[str], head_ts: int) -> bool:
    trades = oracle.chain_trades(d.pad.w3, d.env["BONDING_CURVE_FACTORY_ADDRESS"])
    for token in tokens:
        have = market(d, token)
        for label, seconds in WINDOWS.items():
            want = oracle.window_fields(trades, token, head_ts, label, seconds)
            if any(have.get(k) != v for k, v in want.items()):
                return False
    return True


def head_ts(d: Deployment) -> int:
    return int(d.pad.w3.eth.get_block("latest")["timestamp"])


def exact(d: Deployment, tokens: list[str], what: str) -> None:
    t = head_ts(d)
    wait_for(lambda: windows_match(d, tokens, t), 60, f"window counts at {what} to equal the chain's")
    wait_for(lambda: check_clean(d), 90, f"every market field and ranking at {what} to equal the recomputation")


def test_windows_rankings_and_fields_follow_chain_time_and_reorgs(deployment: Deployment) -> None:
    d = deployment
    curves = [d.pad.create_curve(f"W{i}", f"W{i}") for i in range(2)]
    tokens = [c.token for c in curves]
    traders = d.pad.accounts[1:6]
    # The defaults: market data on, the sub-minute intervals and their retention (the checker reads the same).
    for name in ("MARKET_DATA", "OHLCV_INTERVALS", "CANDLE_RETENTION"):
        d.env.pop(name, None)
    d.start_bridge()
    d.start_worker()
    m0 = next_boundary(head_ts(d) + 90, 60)  # a minute's first second, ahead of the chain
    d.pad.set_automine(False)
    try:
        # The last second of a minute, the first of the next, and a trade a window-length later.
        plan: list[tuple[int, Any, str, int]] = [
            (m0 - 1, curves[0], traders[0], 3 * 10**16), (m0, curves[0], traders[1], 5 * 10**16),
            (m0 + 59, curves[1], traders[0], 2 * 10**16), (m0 + 299, curves[0], traders[2], 10**16),
            (m0 + 300, curves[0], traders[0], 4 * 10**16), (m0 + 301, curves[1], traders[3], 10**17)]
        for ts, curve, trader, wei in plan:
            d.pad.buy(curve, trader, wei, wait=False)
            d.pad.mine(ts)
        exact(d, tokens, "the last trade")
        after = market(d, tokens[0])
        assert after["trades_5m"] == "2" and after["traders_5m"] == "2"  # m0+299 and m0+300
        assert after["trades_1h"] == "4" and after["traders_1h"] == "3"
        assert after["open_5m"] == after["ath_price"] or after["open_5m"]  # the price before the window
        for step in (300, 3600, 86400):
            d.pad.mine(head_ts(d) + step)  # an empty block: only chain time moves
            exact(d, tokens, f"+{step} s")
        idle = market(d, tokens[0])
        assert all(idle[f"trades_{w}"] == "0" for w in WINDOWS) and idle["change_24h"] == "0"
        ranked = d.redis.zrevrange(f"pads:{d.chain_id}:rank:market_cap", 0, -1)
        assert {m.decode() for m in ranked} == set(tokens)

        # Trade again, then a reorg replaces the last two blocks: a different trader buys instead.
        d.pad.buy(curves[1], traders[4], 6 * 10**16, wait=False)
        d.pad.mine(head_ts(d) + 1)
        d.pad.buy(curves[1], traders[4], 7 * 10**16, wait=False)
        d.pad.mine(head_ts(d) + 1)
        exact(d, tokens, "trades after a day")
        tx = {"from": traders[2], "to": d.pad.w3.to_checksum_address(curves[1].curve), "value": hex(10**16),
              "data": d.pad.curve(curves[1].curve).encode_abi("buy", [0]), "gas": hex(300_000)}
        d.pad.rpc("anvil_reorg", [2, [[tx, 0]]])
        d.pad.mine(head_ts(d) + 1)
        exact(d, tokens, "the reorg")
        assert market(d, tokens[1])["traders_5m"] == "1"
    finally:
        d.pad.set_automine(True)
