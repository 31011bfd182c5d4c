"""The bridge's side of the world failing while trades flow: the node's socket cut and frozen,
a provider that rate-limits and refuses ranges, kill -9, and a checkpoint disk that stops
taking writes. Each time the bridge says what failed, recovers on its own, and the candles end
exactly the chain's."""

from __future__ import annotations

import re
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from pads_stream.chain.rawlog import MARKER_KEY
from stack.process import Service

from .conftest import Deployment, checkpoint_block, wait_for
from .driver import read_topic, trades_in_background
from .proxies import RpcProxy, TcpProxy
from .test_pipeline import assert_exact

FAST = {"BRIDGE_MAX_BACKOFF_S": "1"}  # reconnect within a second: the tests wait for recoveries


def log_of(svc: Service) -> str:
    return svc.log_path.read_text(errors="replace")


def published(d: Deployment, bridge: Service) -> int:
    """The last block the bridge says it published (-1 before the first)."""
    body = d.health(bridge)[1]
    return -1 if body.get("published") is None else int(body["published"])


def metric(bridge: Service, sample: str) -> float:
    """A sample of the bridge's /metrics, e.g. 'pads_bridge_errors_total{what="node"}' (0 if absent)."""
    url = bridge.urls["health"].rsplit("/", 1)[0] + "/metrics"
    with urllib.request.urlopen(url, timeout=5) as r:
        text = r.read().decode()
    for line in text.splitlines():
        name, _, value = line.rpartition(" ")
        if name == sample:
            return float(value)
    return 0.0


def last_marker(d: Deployment) -> int:
    """The highest block a head marker in the raw-log topic announces: how far the bridge published."""
    blocks = [orjson.loads(v)["block_number"] for k, v in read_topic(d.env["KAFKA_BOOTSTRAP_SERVERS"],
                                                                      d.env["RAW_LOG_TOPIC"]) if k == MARKER_KEY]
    return max(blocks, default=-1)


def test_a_cut_then_frozen_node_socket_is_noticed_and_recovered(deployment: Deployment) -> None:
    """Every connection to the node is cut, later frozen (open, but no byte gets through): the
    bridge reconnects after the cut at once, and gives the frozen socket up by itself within three
    BRIDGE_HEAD_TIMEOUT_S (it waited out the 30-s request timeout, then 10 s to close, before)."""
    d = deployment
    with TcpProxy(d.env["BLOCKCHAIN_WS_URL"]) as proxy:
        bridge = d.start_bridge(BLOCKCHAIN_WS_URL=proxy.url, **FAST)
        d.start_worker()
        flow, done = trades_in_background(d.pad, 300, seed=23)
        flow.start()
        wait_for(lambda: published(d, bridge) >= 5, 60, "the bridge to publish before the faults")

        assert proxy.cut() >= 1
        wait_for(lambda: "the node failed (ConnectionClosedError" in log_of(bridge), 10, "the cut to be logged")
        wait_for(lambda: proxy.accepted >= 2 and d.health(bridge)[0] == 200, 10, "a new connection")

        started = time.monotonic()
        assert proxy.freeze() >= 1
        # The frozen connection stays open: only the bridge's own keepalive can get it out.
        wait_for(lambda: "keepalive ping timeout" in log_of(bridge), 30, "the frozen socket to be given up")
        noticed = time.monotonic() - started
        proxy.resume()
        # BRIDGE_HEAD_TIMEOUT_S=2: a ping within 2 s, no pong within 2 s, closed in 2 s (it took 40 s).
        assert noticed < 12, f"the frozen socket was given up only after {noticed:.1f}s"
        wait_for(lambda: proxy.accepted >= 3 and d.health(bridge)[0] == 200, 10, "a new connection")
        assert "keepalive ping timeout" in d.health(bridge)[1]["last_error"]

        flow.join(300)
        assert "ts" in done, "the trade driver did not finish"
        assert_exact(d)
        assert metric(bridge, 'pads_bridge_errors_total{what="node"}') >= 2  # the cut, the freeze


# By the number of the eth_getLogs request (a range reads two: the factory's logs, the curves').
RATE_LIMITS = {1: {"code": -32005, "message": "Too Many Requests", "data": {"retry_after": 0.2}},
               4: {"code": -32005, "message": "rate limit exceeded"},
               8: {"code": 429, "message": "Too Many Requests", "data": {"retry_after": 0.1}},
               12: {"code": -32005, "message": "rate limit exceeded"}}
RANGE_REFUSALS = {2: {"code": -32602, "message": "query returned more than 10000 results"},
                  6: {"code": -32602, "message": "block range too large"},
                  10: {"code": -32005, "message": "query returned more than 10000 results"}}


def provider_limits(n: int, _: dict[str, Any]) -> dict[str, Any] | None:
    return RATE_LIMITS.get(n) or RANGE_REFUSALS.get(n)


def test_provider_rate_limits_and_range_refusals_slow_the_bridge_down_but_lose_nothing(
        deployment: Deployment) -> None:
    """A provider that answers some eth_getLogs with rate-limit and range errors: the bridge
    waits and asks again, or halves its step, without reconnecting, and publishes every log once."""
    d = deployment
    with RpcProxy(d.env["BLOCKCHAIN_WS_URL"], provider_limits) as proxy:
        bridge = d.start_bridge(BLOCKCHAIN_WS_URL=proxy.url, **FAST)
        d.start_worker()
        flow, done = trades_in_background(d.pad, 150, seed=29)
        flow.start()
        flow.join(300)
        assert "ts" in done, "the trade driver did not finish"
        assert_exact(d)
        assert len(proxy.injected) == len(RATE_LIMITS) + len(RANGE_REFUSALS), proxy.injected
        log = log_of(bridge)
        # Absorbed on the same connection: none of them made the bridge start over.
        assert not re.search(r"failed \(.*(rate limit|Too Many|results|range)", log), log[-3000:]
        assert len(re.findall(r"WARNING bridge: blocks \d+\.\.\d+: the node is rate-limiting \(.+\); asking again in",
                              log)) == len(RATE_LIMITS), log[-3000:]
        assert len(re.findall(r"WARNING bridge: eth_getLogs \d+\.\.\d+ refused \(.+\); step now \d+ blocks",
                              log)) == len(RANGE_REFUSALS), log[-3000:]
        assert metric(bridge, "pads_bridge_rate_limited_total") == len(RATE_LIMITS)


def test_kill_9_of_the_bridge_three_times_loses_and_doubles_nothing(deployment: Deployment) -> None:
    """kill -9 three times while trades flow, each time a restart on the same checkpoint: logs
    published but not yet checkpointed are published again, and the worker folds them once."""
    d = deployment
    state = Path(d.env["BRIDGE_STATE_FILE"])
    bridge = d.start_bridge()
    d.start_worker()
    flow, done = trades_in_background(d.pad, 600, seed=31)
    flow.start()
    resumed = [0]
    for _ in range(3):
        wait_for(lambda bridge=bridge: d.health(bridge)[0] == 200, 30, "the bridge to connect")
        time.sleep(0.5)  # mid-stream
        bridge.proc.kill()
        bridge.proc.wait(10)
        resumed.append(checkpoint_block(state) + 1)
        bridge = d.start_bridge()
    flow.join(300)
    assert "ts" in done, "the trade driver did not finish"
    assert_exact(d)
    # Each start resumed right after the checkpoint the killed bridge left.
    starts = wait_for(lambda: (lambda s: s if len(s) == 4 else None)(
        [int(b) for b in re.findall(r"INFO bridge: bridge starting at block (\d+)", log_of(bridge))]), 10, "4 starts")
    assert starts == resumed, (starts, resumed)
    wait_for(lambda: d.health(bridge)[0] == 200, 10, "/health 200")


def test_a_checkpoint_disk_that_fails_stops_publishing_until_it_is_back(deployment: Deployment) -> None:
    """The checkpoint's directory turns into a file (writes fail even as root), then trades flow:
    the bridge says the checkpoint disk failed, /health is 503, it publishes nothing more than
    the range whose checkpoint failed, and once the directory is back it carries on, exact."""
    d = deployment
    folder = d.dir / "checkpoint"
    state = folder / "bridge-checkpoint.json"
    bridge = d.start_bridge(BRIDGE_STATE_FILE=str(state), **FAST)
    d.start_worker()
    flow, done = trades_in_background(d.pad, 150, seed=37)  # its curves are created (and checkpointed) now
    wait_for(lambda: checkpoint_block(state) == d.pad.head(), 30, "the curves to be checkpointed")

    away = folder.rename(d.dir / "checkpoint-away")
    folder.write_text("not a directory\n")
    try:
        flow.start()
        wait_for(lambda: "the checkpoint disk failed" in log_of(bridge), 15, "the failed checkpoint to be logged")
        wait_for(lambda: d.health(bridge)[0] == 503, 10, "/health 503")
        reached = last_marker(d)  # the range whose checkpoint failed was published first
        flow.join(300)
        assert "ts" in done, "the trade driver did not finish"
        time.sleep(1.0)  # a retry or two more
        status, body = d.health(bridge)
        assert status == 503 and "the checkpoint disk failed" in body["last_error"], body
        assert last_marker(d) == reached < d.pad.head(), "the bridge published blocks it could not checkpoint"
        assert metric(bridge, 'pads_bridge_errors_total{what="checkpoint"}') >= 2
        assert checkpoint_block(away / state.name) < reached
    finally:
        folder.unlink()
        away.rename(folder)
    wait_for(lambda: d.health(bridge)[0] == 200, 10, "/health 200 once the disk is back")
    assert_exact(d)
    wait_for(lambda: checkpoint_block(state) == last_marker(d) == d.pad.head(), 10, "the checkpoint to reach the head")
