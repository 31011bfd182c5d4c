"""A node socket that goes quiet while staying open (a frozen connection: a stuck load balancer,
a dead NAT entry) is given up after about two BRIDGE_HEAD_TIMEOUT_S, not after the 30-s request
timeout (and not after one timeout per halved range, when the freeze hits a range read)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from web3 import AsyncWeb3
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from bridge import settings as bridge_settings
from bridge.run import REQUEST_TIMEOUT_S, node_provider
from bridge.source import ChainSource
from tests.unit.bridge.test_bridge_run_reorg import env  # noqa: F401  (a fixture)


def test_a_frozen_node_socket_fails_the_waiting_request_within_two_head_timeouts(
        env: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    async def scenario() -> tuple[BaseException | None, float]:
        done = asyncio.Event()

        async def frozen(ws: ServerConnection) -> None:
            ws.transport.pause_reading()  # accepted, then nothing: no answer, no pong
            await done.wait()

        async with serve(frozen, "127.0.0.1", 0, close_timeout=0.1) as server:
            port = server.sockets[0].getsockname()[1]
            monkeypatch.setenv("BLOCKCHAIN_WS_URL", f"ws://127.0.0.1:{port}")
            monkeypatch.setenv("BRIDGE_HEAD_TIMEOUT_S", "0.3")
            started = time.monotonic()
            try:
                async with AsyncWeb3(node_provider(bridge_settings.load())) as w3:
                    await ChainSource(w3, 8453).head()
            except Exception as exc:  # noqa: BLE001
                return exc, time.monotonic() - started
            finally:
                done.set()
            return None, time.monotonic() - started

    error, took = asyncio.run(asyncio.wait_for(scenario(), REQUEST_TIMEOUT_S))
    assert isinstance(error, ConnectionClosed), repr(error)
    assert "keepalive ping timeout" in str(error)
    assert took < 2.0, took  # ping after 0.3 s, no pong within 0.3 s, close without waiting long
