"""JSON-RPC reads over the node's WebSocket: raw eth_getLogs and block headers.

Raw requests keep hex strings and `blockTimestamp` exactly as the node sent them, and let
provider errors (range limits) reach the range planner instead of being reformatted.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from web3 import AsyncWeb3
from web3.types import RPCEndpoint

from pads_stream.chain.rawlog import RawLog
from pads_stream.decode.abi import CURVE_CREATED_TOPIC

from .errors import RpcError
from .registry import CURVE_TOPICS, CurveRegistry

ADDRESS_FILTER_MAX = 1000


class ChainSource:
    def __init__(self, w3: AsyncWeb3[Any], chain_id: int) -> None:
        self.w3 = w3
        self.chain_id = chain_id
        self._timestamps: OrderedDict[int, int] = OrderedDict()

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

    async def timestamp(self, block_number: int) -> int:
        ts = self._timestamps.get(block_number)
        if ts is None:
            block = await self.call("eth_getBlockByNumber", [hex(block_number), False])
            ts = int(block["timestamp"], 16)
            self._timestamps[block_number] = ts
            if len(self._timestamps) > 4096:
                self._timestamps.popitem(last=False)
        return ts

    async def to_raw(self, lg: dict[str, Any]) -> RawLog:
        block_number = int(lg["blockNumber"], 16)
        ts = lg.get("blockTimestamp")
        return RawLog(
            chain_id=self.chain_id,
            address=lg["address"].lower(),
            topics=tuple(t.lower() for t in lg["topics"]),
            data=lg["data"].lower(),
            block_number=block_number,
            block_hash=lg["blockHash"].lower(),
            block_timestamp=int(ts, 16) if ts else await self.timestamp(block_number),
            transaction_hash=lg["transactionHash"].lower(),
            transaction_index=int(lg["transactionIndex"], 16),
            log_index=int(lg["logIndex"], 16),
            removed=bool(lg.get("removed", False)),
        )
