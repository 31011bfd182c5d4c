"""The bridge's retry policy: rate limits wait (as asked) without shrinking the range, range
refusals and timeouts shrink it, and errors say which dependency failed."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError
from web3.exceptions import TimeExhausted

from bridge.errors import CheckpointWriteError, RpcError
from bridge.run import what_failed
from tests.unit.bridge.test_bridge_run_reorg import FakeNode, bridge, env  # noqa: F401  (env is a fixture)


@pytest.mark.parametrize(("error", "limited", "too_large", "after"), [
    ({"code": 429, "message": "Too Many Requests"}, True, False, None),
    ({"code": -32000, "message": "Your app has exceeded its compute units per second capacity"}, True, False, None),
    ({"code": -32000, "message": "rate limited, retry after 2s"}, True, False, 2.0),
    ({"code": -32000, "message": "Try again in 1500 ms"}, True, False, 1.5),
    ({"code": -32000, "message": "busy", "data": {"retry_after": 3}}, True, False, 3.0),
    ({"code": -32005, "message": "query returned more than 10000 results"}, False, True, None),
    ({"code": -32602, "message": "block range too large"}, False, True, None),
    ({"code": -32602, "message": "invalid params"}, False, False, None),
    ("exceeds the block span of 2000", False, True, None),
])
def test_error_classes(error: Any, limited: bool, too_large: bool, after: float | None) -> None:
    e = RpcError("eth_getLogs", error)
    assert (e.rate_limited, e.range_too_large, e.retry_after) == (limited, too_large, after)


def test_what_failed_names_the_dependency() -> None:
    assert what_failed(KafkaConnectionError("down")) == "Kafka"
    assert what_failed(CheckpointWriteError("read-only")) == "the checkpoint disk"
    assert what_failed(OSError("connection reset")) == "the node"


def script(node: FakeNode, errors: list[BaseException]) -> list[tuple[int, int]]:
    """Raise `errors` on the first eth_getLogs calls; record every requested range."""
    asked: list[tuple[int, int]] = []
    real = node.call

    async def call(method: str, params: list[Any]) -> Any:
        if method == "eth_getLogs" and isinstance(params[0]["topics"][0], list):
            asked.append((int(params[0]["fromBlock"], 16), int(params[0]["toBlock"], 16)))
            if errors:
                raise errors.pop(0)
        return await real(method, params)

    node.call = call  # type: ignore[method-assign]
    return asked


def test_a_rate_limit_waits_as_asked_and_keeps_the_range(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(s: float) -> None:
        slept.append(s)
        await real_sleep(0)

    monkeypatch.setattr("bridge.run.asyncio.sleep", sleep)
    node = FakeNode(6, {2: 1, 5: 1})
    limited = RpcError("eth_getLogs", {"code": 429, "message": "Too Many Requests", "data": {"retry_after": 2}})
    asked = script(node, [limited, RpcError("eth_getLogs", {"code": 429, "message": "Too Many Requests"})])

    async def scenario() -> tuple[Any, Any]:
        br, pub = bridge()
        await br._catch_up(node, 6)
        return br, pub

    br, pub = asyncio.run(scenario())
    assert asked[:3] == [(0, 3), (0, 3), (0, 3)]  # the same range, not halved
    assert br.step.current == 4
    assert slept[:2] == [2.0, 0.5 * 2]  # as asked, then backoff (second in a row)
    assert ("head", 6) in pub.take()


def test_a_timeout_shrinks_the_range(env: Path) -> None:  # noqa: F811
    node = FakeNode(6, {2: 1})
    asked = script(node, [TimeExhausted("no answer in 30 s")])

    async def scenario() -> Any:
        br, pub = bridge()
        await br._catch_up(node, 6)
        return pub

    pub = asyncio.run(scenario())
    assert asked[:2] == [(0, 3), (0, 1)]
    assert ("head", 6) in pub.take()


class LaggingNode(FakeNode):
    """A node that has not seen the blocks above `lag_head` yet (a backend behind the others)."""

    lag_head: int | None = None

    async def call(self, method: str, params: list[Any]) -> Any:
        if self.lag_head is not None:
            if method == "eth_blockNumber":
                return hex(self.lag_head)
            if method == "eth_getBlockByNumber" and int(params[0], 16) > self.lag_head:
                return None
        return await super().call(method, params)


def test_a_node_behind_what_was_published_is_not_a_reorg(env: Path, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    node = LaggingNode(40, {2: 1, 35: 1, 39: 2})

    async def scenario() -> list[Any]:
        br, pub = bridge()
        await br._catch_up(node, 40)
        pub.take()
        node.lag_head = 4  # far behind: past FINALITY_DEPTH, it would have been a deep-reorg alarm
        await br._catch_up(node, 4)
        behind = pub.take()
        node.lag_head = None
        node.branch[41] = "a"
        node.trades[(41, "a")] = 1
        await br._catch_up(node, 41)
        return behind + pub.take()

    published = asyncio.run(scenario())
    assert not any(m[-1] is True for m in published if len(m) == 4)  # nothing removed
    assert published == [(41, 0, "a", False), ("head", 41)]
    assert "behind block 40, already published" in caplog.text
    assert not [r for r in caplog.records if r.levelno == logging.CRITICAL]
