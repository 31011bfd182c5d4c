"""JSON-RPC reads over the node's WebSocket: raw eth_getLogs and block headers.

Raw requests keep hex strings and `blockTimestamp` exactly as the node sent them, and let
provider errors (range limits) reach the range planner instead of being reformatted.
Block timestamps are cached by hash, not number: a reorg gives a number another block.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

from web3 import AsyncWeb3
from web3.types import RPCEndpoint

from pads_stream.chain.rawlog import RawLog
from pads_stream.chain.topics import CURVE_CREATED_TOPIC

from .errors import ChainMoved, RpcError
from .registry import CURVE_TOPICS, CurveRegistry
from .reorg import Header, fetch_problem

ADDRESS_FILTER_MAX = 1000
HEADER_CONCURRENCY = 64


class ChainSource:
    def __init__(self, w3: AsyncWeb3[Any], chain_id: int) -> None:
        self.w3 = w3
        self.chain_id = chain_id
        self._timestamps: OrderedDict[str, int] = OrderedDict()

    async def call(self, method: str, params: list[Any]) -> Any:
        resp = await self.w3.provider.make_request(RPCEndpoint(method), params)
        if "error" in resp:
            raise RpcError(method, resp["error"])
        return resp["result"]

    async def chain_id_of_node(self) -> int:
        return int(await self.call("eth_chainId", []), 16)

    async def head(self) -> int:
        return int(await self.call("eth_blockNumber", []), 16)

    async def get_logs(self, a: int, b: int, address: str | list[str] | None,
                       topics: list[Any]) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"fromBlock": hex(a), "toBlock": hex(b), "topics": topics}
        if address is not None:
            params["address"] = address
        return list(await self.call("eth_getLogs", [params]))

    async def launchpad_logs(self, a: int, b: int, registry: CurveRegistry) -> list[RawLog]:
        """Factory logs first (they register curves), then the logs of every known curve."""
        factory_logs = registry.learn(await self.get_logs(a, b, registry.factory, [CURVE_CREATED_TOPIC]))
        curve_logs: list[dict[str, Any]] = []
        if registry.curves:
            # Past a thousand curves an address list costs more than filtering locally.
            address = sorted(registry.curves) if len(registry.curves) <= ADDRESS_FILTER_MAX else None
            curve_logs = [lg for lg in await self.get_logs(a, b, address, [list(CURVE_TOPICS)])
                          if registry.accept(lg)]
        logs = factory_logs + curve_logs
        logs.sort(key=lambda lg: (int(lg["blockNumber"], 16), int(lg["logIndex"], 16)))
        return [await self.to_raw(lg) for lg in logs]

    def _remember(self, block: dict[str, Any]) -> None:
        self._timestamps[block["hash"].lower()] = int(block["timestamp"], 16)
        if len(self._timestamps) > 4096:
            self._timestamps.popitem(last=False)

    async def header(self, number: int) -> Header | None:
        """The chain's current block at `number`, None if the node has none (yet)."""
        block = await self.call("eth_getBlockByNumber", [hex(number), False])
        if block is None:
            return None
        self._remember(block)
        return Header(number, block["hash"].lower(), block["parentHash"].lower())

    async def headers(self, numbers: range) -> list[Header]:
        out: list[Header] = []
        for i in range(0, len(numbers), HEADER_CONCURRENCY):
            chunk = numbers[i:i + HEADER_CONCURRENCY]
            for n, h in zip(chunk, await asyncio.gather(*(self.header(n) for n in chunk)), strict=True):
                if h is None:
                    raise ChainMoved(f"block {n} is gone")
                out.append(h)
        return out

    async def read_range(self, a: int, b: int, window: range, prev_hash: str | None,
                         registry: CurveRegistry) -> tuple[list[Header], list[RawLog]]:
        """Headers of the blocks in `window` (the tail of a..b), then the range's logs; raises
        ChainMoved if they do not describe one chain extending `prev_hash`. Headers come first so
        a log from a branch the headers did not see always shows up as a hash mismatch."""
        headers = await self.headers(window)
        logs = await self.launchpad_logs(a, b, registry)
        problem = fetch_problem(headers, logs, prev_hash)
        if problem:
            raise ChainMoved(problem)
        return headers, logs

    async def timestamp(self, block_hash: str) -> int:
        ts = self._timestamps.get(block_hash)
        if ts is None:
            block = await self.call("eth_getBlockByHash", [block_hash, False])
            if block is None:
                raise ChainMoved(f"block {block_hash} is gone")
            self._remember(block)
            ts = self._timestamps[block_hash]
        return ts

    async def to_raw(self, lg: dict[str, Any]) -> RawLog:
        block_hash = lg["blockHash"].lower()
        ts = lg.get("blockTimestamp")
        return RawLog(
            chain_id=self.chain_id,
            address=lg["address"].lower(),
            topics=tuple(t.lower() for t in lg["topics"]),
            data=lg["data"].lower(),
            block_number=int(lg["blockNumber"], 16),
            block_hash=block_hash,
            block_timestamp=int(ts, 16) if ts else await self.timestamp(block_hash),
            transaction_hash=lg["transactionHash"].lower(),
            transaction_index=int(lg["transactionIndex"], 16),
            log_index=int(lg["logIndex"], 16),
            removed=bool(lg.get("removed", False)),
        )
