"""The whole bridge loop (`Bridge.run`) on an in-memory node and topic, with a checkpoint disk
that fails: what it publishes meanwhile, what it reports, and how it carries on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bridge import checkpoint
from tests.unit.bridge.test_bridge_run_reorg import FakeNode, ListPublisher, bridge, env  # noqa: F401  (env is a fixture)


class Publisher(ListPublisher):
    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class FakeW3:
    """What `_follow` uses of AsyncWeb3: subscribe, and a subscription stream that stays quiet."""

    def __init__(self) -> None:
        async def subscribe(*_: Any) -> str:
            return "0x1"

        self.eth = type("Eth", (), {"subscribe": staticmethod(subscribe)})()
        self.socket = type("Socket", (), {"process_subscriptions": staticmethod(self._quiet)})()

    @staticmethod
    async def _quiet() -> AsyncIterator[None]:
        await asyncio.Event().wait()
        yield None

    async def __aenter__(self) -> FakeW3:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None


@pytest.fixture
def offline(env: Path, monkeypatch: pytest.MonkeyPatch) -> FakeNode:  # noqa: F811
    """A bridge world with no Kafka and no socket: `run()` reads `node`."""
    monkeypatch.setenv("BRIDGE_WEB_PORT", "0")
    monkeypatch.setenv("BRIDGE_MAX_BACKOFF_S", "0.01")
    node = FakeNode(6, {2: 1, 5: 1})

    async def chain_id() -> int:
        return 8453

    node.chain_id_of_node = chain_id  # type: ignore[method-assign]

    async def no_topics(*_: Any, **__: Any) -> None:
        return None

    monkeypatch.setattr("bridge.run.ensure_topics", no_topics)
    monkeypatch.setattr("bridge.run.WebSocketProvider", lambda *_, **__: None)
    monkeypatch.setattr("bridge.run.AsyncWeb3", lambda _: FakeW3())

    def source(w3: Any, _: int) -> FakeNode:
        node.w3 = w3
        return node

    monkeypatch.setattr("bridge.run.ChainSource", source)
    return node


async def until(check: Any, what: str) -> None:
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {what}")


def test_a_failed_checkpoint_write_publishes_nothing_more_until_a_write_succeeds(
        offline: FakeNode, env: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    disk_ok = False
    saves: list[int] = []
    real_save = checkpoint.save

    def save(path: Path, cp: checkpoint.Checkpoint) -> None:
        saves.append(cp.last_block)
        if not disk_ok:
            raise NotADirectoryError(20, "Not a directory", str(path))
        real_save(path, cp)

    monkeypatch.setattr("bridge.checkpoint.save", save)

    async def scenario() -> list[Any]:
        nonlocal disk_ok
        br, _ = bridge()
        br.publisher = pub = Publisher()  # type: ignore[assignment]
        task = asyncio.create_task(br.run())
        # Retried again and again, or (the bug) carried on publishing without a checkpoint.
        await until(lambda: len(saves) >= 5 or br.next_block > 6, "the bridge to retry the checkpoint")
        # The range whose checkpoint failed was already published; nothing after it, however often retried.
        assert pub.take() == [(2, 0, "a", False), ("head", 3)]
        assert not br.status.connected and "the checkpoint disk failed" in (br.status.last_error or "")
        assert br.status.health()[0] == 503
        disk_ok = True
        await until(lambda: br.status.published == 6, "the bridge to carry on")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return pub.take()

    after = asyncio.run(scenario())
    assert set(saves[:-2]) == {3}  # the same checkpoint, again and again
    assert after == [(5, 0, "a", False), ("head", 6)]
    assert checkpoint.load(env, 8453, "0x" + "fa" * 20).last_block == 6  # type: ignore[union-attr]
