"""A provider's JSON-RPC error reaches the range planner as an RpcError over the real web3
WebSocket provider, and the connection stays up: web3 took an error answering a raw request for
a stray error, raised it in its listener and so ended the connection (a rate limit or a refused
range became a reconnect, and the step never shrank)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from web3 import AsyncWeb3
from websockets.asyncio.server import ServerConnection, serve

from bridge import settings as bridge_settings
from bridge.errors import RpcError
from bridge.run import node_provider
from bridge.source import ChainSource
from tests.unit.bridge.test_bridge_run_reorg import env  # noqa: F401  (a fixture)

ERRORS = [{"code": -32005, "message": "Too Many Requests", "data": {"retry_after": 0.2}},
          {"code": -32602, "message": "query returned more than 10000 results"}]


async def provider_node(ws: ServerConnection) -> None:
    """Refuses eth_getLogs with the next of ERRORS; answers eth_blockNumber."""
    errors = list(ERRORS)
    async for message in ws:
        request = json.loads(message)
        answer: dict[str, Any] = {"jsonrpc": "2.0", "id": request["id"]}
        if request["method"] == "eth_getLogs":
            answer["error"] = errors.pop(0)
        else:
            answer["result"] = "0x10"
        await ws.send(json.dumps(answer))


def test_provider_errors_are_rpc_errors_and_the_connection_stays(env: Path,  # noqa: F811
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> tuple[list[RpcError], int]:
        async with serve(provider_node, "127.0.0.1", 0) as server:
            monkeypatch.setenv("BLOCKCHAIN_WS_URL", f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}")
            async with AsyncWeb3(node_provider(bridge_settings.load())) as w3:
                source = ChainSource(w3, 8453)
                refused = []
                for _ in ERRORS:
                    with pytest.raises(RpcError) as info:
                        await source.get_logs(0, 99, None, [])
                    refused.append(info.value)
                return refused, await source.head()

    (limited, too_large), head = asyncio.run(asyncio.wait_for(scenario(), 10))
    assert (limited.rate_limited, limited.retry_after) == (True, 0.2)
    assert too_large.range_too_large and not too_large.rate_limited
    assert head == 16  # the same connection still answers
