"""Exact under duplicates, reorgs, replay, more workers and kill -9 (real services)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from stack.process import ROOT

from .conftest import Deployment, checkpoint_block, wait_for
from .driver import trades_in_background
from .test_pipeline import assert_exact


def _settle(d: Deployment) -> None:
    """Mine FINALITY_DEPTH empty blocks so every trade becomes final."""
    for _ in range(int(d.env["FINALITY_DEPTH"]) + 1):
        d.pad.mine()


def test_logs_delivered_twice_change_nothing(deployment: Deployment) -> None:
    d = deployment
    flow, _ = trades_in_background(d.pad, 120, seed=1)
    d.start_bridge()
    d.start_worker()
    flow.start()
    flow.join(300)
    _settle(d)
    assert_exact(d)
    before = d.checksum()
    # A second bridge with its own (empty) checkpoint re-publishes the whole history.
    second = d.dir / "second-checkpoint.json"
    d.start_bridge("bridge-again", BRIDGE_STATE_FILE=str(second))
    head = d.pad.head()
    wait_for(lambda: checkpoint_block(second) >= head, 60, "the second bridge to republish everything")
    time.sleep(3)
    assert_exact(d)
    assert d.checksum() == before


def test_reorg_corrects_candles_pushes_corrections_and_finalizes(deployment: Deployment) -> None:
    d = deployment
    curves = [d.pad.create_curve(f"G{i}", f"G{i}") for i in range(2)]
    d.start_bridge()
    d.start_worker()
    traders = d.pad.accounts[1:8]
    for i in range(12):
        d.pad.buy(curves[i % 2], traders[i % len(traders)], (i + 1) * 10**16)
    assert_exact(d, timeout=60)

    def buy_tx(curve: Any, sender: str, wei: int) -> dict[str, Any]:
        return {"from": sender, "to": d.pad.w3.to_checksum_address(curve.curve), "value": hex(wei),
                "data": d.pad.curve(curve.curve).encode_abi("buy", [0]), "gas": hex(300_000)}

    head = d.pad.head()
    dropped = [lg for lg in d.pad.w3.eth.get_logs({"fromBlock": head - 3, "toBlock": head})]
    assert dropped, "the reorged blocks must hold trades"
    # Depth 4: the last 4 blocks are replaced; two different buys land at other positions.
    d.pad.rpc("anvil_reorg", [4, [[buy_tx(curves[1], traders[5], 7 * 10**16), 0],
                                  [buy_tx(curves[0], traders[6], 3 * 10**16), 2]]])
    d.pad.buy(curves[0], traders[0], 10**16)  # the chain moves on after the reorg
    assert_exact(d, timeout=60)
    # The push follows Redis by up to a push interval.
    corrections = wait_for(lambda: [m for m in d.received("candle") if m.get("correction")], 30,
                           "the backend to receive a correction")
    assert all("candle" in m and "t" in m["candle"] for m in corrections)

    _settle(d)
    expected = assert_exact(d, timeout=60)
    assert all(c["final"] for series in expected.values() for c in series.values())
    wait_for(lambda: [m for m in d.received("candle") if m["candle"].get("final")], 30,
             "a candle to be pushed as final")


def test_replay_after_offset_reset_reproduces_the_live_checksum(deployment: Deployment) -> None:
    d = deployment
    flow, _ = trades_in_background(d.pad, 100, seed=2)
    d.start_bridge()
    worker = d.start_worker(DATA_DIR=str(d.dir / "worker-data"))
    flow.start()
    flow.join(300)
    _settle(d)
    assert_exact(d)
    live = d.checksum()
    worker.stop()
    env = {**os.environ, **d.env, "DATA_DIR": str(d.dir / "worker-data")}
    out = subprocess.run([sys.executable, "-m", "pads_stream", "replay", "--yes", "--timeout", "240"], env=env,
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert d.checksum() == live
    assert live in out.stdout


def test_two_workers_equal_one(deployment: Deployment) -> None:
    d = deployment
    flow, _ = trades_in_background(d.pad, 160, seed=3)
    d.start_worker("solo")
    pair = d.group("pair", "pads-pair")
    d.start_worker("pair-1", **pair)
    d.start_worker("pair-2", **pair)
    time.sleep(2)  # both members are assigned before the first log arrives
    d.start_bridge()
    flow.start()
    flow.join(300)
    _settle(d)
    assert_exact(d)
    d.same_state("pads-pair", pair)


def test_a_worker_stopping_mid_stream_loses_nothing(deployment: Deployment) -> None:
    """A worker joins and leaves within seconds while records flow: faust-streaming drops
    records it fetched around each rebalance and commits past them; the candle agent sees
    the gap against its table's next offset and reads them again."""
    d = deployment
    flow, _ = trades_in_background(d.pad, 160, seed=3)
    d.start_bridge()
    d.start_worker("solo")
    pair = d.group("pair", "pads-pair")
    d.start_worker("pair-1", **pair)
    second = d.start_worker("pair-2", **pair)
    flow.start()
    wait_for(lambda: len(d.redis_candles()) >= 6, 60, "the first candles")
    second.proc.send_signal(signal.SIGTERM)  # its partitions move to pair-1 mid-stream
    flow.join(300)
    _settle(d)
    assert_exact(d)
    d.same_state("pads-pair", pair)


def test_kill_minus_nine_three_times_equals_an_uninterrupted_run(deployment: Deployment) -> None:
    d = deployment
    flow, _ = trades_in_background(d.pad, 240, seed=4)
    d.start_bridge()
    steady = d.group("steady", "pads-steady")
    d.start_worker("steady", **steady)
    worker = d.start_worker("victim", DATA_DIR=str(d.dir / "victim-data"))
    flow.start()
    for kill in range(3):
        time.sleep(2.5)
        worker.proc.send_signal(signal.SIGKILL)
        worker.proc.wait(30)
        worker = d.start_worker(f"victim-{kill + 1}", DATA_DIR=str(d.dir / "victim-data"))
    flow.join(300)
    _settle(d)
    assert_exact(d)
    d.same_state("pads-steady", steady)
