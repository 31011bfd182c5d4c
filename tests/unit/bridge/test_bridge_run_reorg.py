"""The bridge loop against an in-memory node whose chain can be reorganised: what reaches the
topic, in which order, and what the checkpoint holds. Kafka is replaced by a list."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from bridge import settings as bridge_settings
from bridge.run import Bridge
from bridge.source import ChainSource
from pads_stream.chain.rawlog import HeadMarker, RawLog
from pads_stream.decode.abi import TRADE_TOPIC

FACTORY = "0x" + "fa" * 20
CURVE = "0x" + "c3" * 20
DEPTH = 3


def bhash(n: int, branch: str) -> str:
    return "0x" + "00" * 32 if n < 0 else f"0x{ord(branch):02x}{n:062x}"


class FakeNode(ChainSource):
    """A chain of blocks, each on a branch, answering the JSON-RPC calls the bridge makes."""

    def __init__(self, head: int, trades: dict[int, int]) -> None:
        super().__init__(None, 8453)  # type: ignore[arg-type]
        self.branch = {n: "a" for n in range(head + 1)}
        self.trades = {(n, "a"): k for n, k in trades.items()}
        self.on_get_logs: Any = None

    def reorg(self, first: int, head: int, branch: str, trades: dict[int, int]) -> None:
        self.branch = {n: (self.branch[n] if n < first else branch) for n in range(head + 1)}
        self.trades.update({(n, branch): k for n, k in trades.items()})

    def _block(self, n: int) -> dict[str, Any] | None:
        if n not in self.branch:
            return None
        return {"hash": bhash(n, self.branch[n]), "parentHash": bhash(n - 1, self.branch.get(n - 1, "a")),
                "timestamp": hex(1_700_000_000 + 2 * n), "number": hex(n)}

    async def call(self, method: str, params: list[Any]) -> Any:
        if method == "eth_blockNumber":
            return hex(max(self.branch))
        if method == "eth_getBlockByNumber":
            return self._block(int(params[0], 16))
        if method == "eth_getBlockByHash":
            return next((self._block(n) for n in self.branch if bhash(n, self.branch[n]) == params[0]), None)
        assert method == "eth_getLogs", method
        if self.on_get_logs:
            self.on_get_logs()
        q = params[0]
        if not isinstance(q["topics"][0], list):
            return []  # the factory's CurveCreated query: the curve is registered by the test
        out = []
        for n in range(int(q["fromBlock"], 16), int(q["toBlock"], 16) + 1):
            br = self.branch[n]
            out += [{"address": CURVE, "topics": [TRADE_TOPIC], "data": f"0x{ord(br):02x}",
                     "blockNumber": hex(n), "blockHash": bhash(n, br), "transactionHash": "0x" + f"{n:032x}{i:032x}",
                     "transactionIndex": hex(i), "logIndex": hex(i)} for i in range(self.trades.get((n, br), 0))]
        return out


class ListPublisher:
    def __init__(self) -> None:
        self.messages: list[RawLog | HeadMarker] = []

    async def publish(self, logs: list[RawLog], marker: HeadMarker | None = None) -> None:
        self.messages += logs
        if marker:
            self.messages.append(marker)

    def take(self) -> list[tuple[int, int, str, bool] | tuple[str, int]]:
        """Logs as (block, log_index, branch, removed), markers as ('head', block)."""
        out: list[tuple[int, int, str, bool] | tuple[str, int]] = [
            ("head", m.block_number) if isinstance(m, HeadMarker) else
            (m.block_number, m.log_index, chr(int(m.block_hash[2:4], 16)), m.removed) for m in self.messages]
        self.messages.clear()
        return out


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    for name, value in {"BLOCKCHAIN_WS_URL": "ws://127.0.0.1:1", "BONDING_CURVE_FACTORY_ADDRESS": FACTORY,
                        "CHAIN_ID": "8453", "FINALITY_DEPTH": str(DEPTH), "BATCH_SIZE": "4",
                        "BRIDGE_STATE_FILE": str(tmp_path / "cp.json")}.items():
        monkeypatch.setenv(name, value)
    return tmp_path / "cp.json"


def bridge() -> tuple[Bridge, ListPublisher]:
    b = Bridge(bridge_settings.load())
    b.publisher = ListPublisher()  # type: ignore[assignment]
    b.registry.curves.add(CURVE)
    return b, b.publisher  # type: ignore[return-value]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_reorgs_are_undone_in_order(env: Path, caplog: pytest.LogCaptureFixture) -> None:
    node = FakeNode(10, {2: 1, 5: 2, 8: 1, 9: 2, 10: 1})

    async def scenario() -> None:
        br, pub = bridge()
        await br._catch_up(node, 10)
        assert pub.take() == [(2, 0, "a", False), ("head", 3), (5, 0, "a", False), (5, 1, "a", False), ("head", 7),
                              (8, 0, "a", False), (9, 0, "a", False), (9, 1, "a", False), (10, 0, "a", False),
                              ("head", 10)]
        assert [bl.number for bl in br.recent.blocks] == [7, 8, 9, 10]

        # 2-block reorg plus a new block: removals newest first, then the new branch.
        node.reorg(9, 11, "b", {9: 1, 11: 1})
        await br._catch_up(node, 11)
        assert pub.take() == [(10, 0, "a", True), (9, 1, "a", True), (9, 0, "a", True),
                              (9, 0, "b", False), (11, 0, "b", False), ("head", 11)]
        assert "reorg: blocks 9..10 replaced (depth 2), 3 logs removed" in caplog.text

        # Same height, no new block: still detected on the next wake-up.
        node.reorg(11, 11, "c", {11: 2})
        await br._catch_up(node, 11)
        assert pub.take() == [(11, 0, "b", True), (11, 0, "c", False), (11, 1, "c", False), ("head", 11)]

        # Deeper than the window (8..11 retained): every retained log removed, read again from 8.
        node.reorg(6, 12, "d", {8: 1, 12: 1})
        await br._catch_up(node, 12)
        assert pub.take() == [(11, 1, "c", True), (11, 0, "c", True), (9, 0, "b", True), (8, 0, "a", True),
                              (8, 0, "d", False), ("head", 11), (12, 0, "d", False), ("head", 12)]
        critical = [r for r in caplog.records if r.levelno == logging.CRITICAL]
        assert len(critical) == 1 and "candles before block 8 may be wrong" in critical[0].getMessage()
        assert "python -m pads_stream replay" in critical[0].getMessage()

        # Restart from the checkpoint: nothing is published again.
        br2, pub2 = bridge()
        assert br2.next_block == 13 and [bl.hash for bl in br2.recent.blocks] == [bl.hash for bl in br.recent.blocks]
        await br2._catch_up(node, 12)
        assert pub2.take() == []

        # A reorg while the bridge was down is found from the checkpoint alone.
        node.reorg(12, 12, "e", {})
        br3, pub3 = bridge()
        await br3._catch_up(node, 12)
        assert pub3.take() == [(12, 0, "d", True), ("head", 12)]

    run(scenario())


def test_chain_moving_during_a_read_retries_the_range(env: Path, caplog: pytest.LogCaptureFixture) -> None:
    node = FakeNode(3, {1: 1, 3: 1})

    async def scenario() -> None:
        br, pub = bridge()
        await br._catch_up(node, 3)
        pub.take()
        node.reorg(4, 5, "a", {5: 1})

        def switch() -> None:  # between the header reads and eth_getLogs: block 5 is replaced
            node.on_get_logs = None
            node.reorg(5, 5, "b", {5: 2})

        node.on_get_logs = switch
        await br._catch_up(node, 5)
        assert pub.take() == [(5, 0, "b", False), (5, 1, "b", False), ("head", 5)]
        assert "changed while being read" in caplog.text

    run(scenario())


def test_old_checkpoint_resumes_without_a_window(env: Path) -> None:
    env.write_text(f'{{"chain_id": 8453, "factory": "{FACTORY}", "last_block": 5, "curves": ["{CURVE}"]}}')
    node = FakeNode(7, {6: 1, 7: 1})

    async def scenario() -> None:
        br, pub = bridge()
        assert br.next_block == 6 and br.recent.blocks == []
        await br._catch_up(node, 7)
        assert pub.take() == [(6, 0, "a", False), (7, 0, "a", False), ("head", 7)]
        assert [bl.number for bl in br.recent.blocks] == [6, 7]

    run(scenario())
