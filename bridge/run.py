"""The bridge loop: resume from the checkpoint, backfill to head, then follow new heads.

A newHeads subscription only wakes the loop; every block range is read with eth_getLogs, so
backfill and live share one gap-free path. A silent socket is caught by the head watchdog.
"""

from __future__ import annotations

import asyncio
import logging
import random
from pathlib import Path
from typing import Any

from web3 import AsyncWeb3, WebSocketProvider

from pads_stream.topics import ensure_topics

from . import checkpoint
from .errors import BridgeError, ConfigError, RpcError
from .publisher import Publisher
from .ranges import AdaptiveStep, backoff
from .registry import CurveRegistry
from .settings import BridgeSettings
from .source import ChainSource

log = logging.getLogger("bridge")


class Bridge:
    def __init__(self, settings: BridgeSettings) -> None:
        self.s = settings
        self.state_path = Path(settings.state_file)
        cp = checkpoint.load(self.state_path, settings.chain_id, settings.bonding_curve_factory_address)
        self.next_block = cp.last_block + 1 if cp else settings.start_block
        self.registry = CurveRegistry(settings.bonding_curve_factory_address, cp.curves if cp else None)
        self.step = AdaptiveStep(settings.batch_size)
        self.publisher = Publisher(settings.kafka_bootstrap_servers, settings.raw_log_topic)
        self._woken = asyncio.Event()

    async def run(self) -> None:
        await ensure_topics(self.s.kafka_bootstrap_servers, [self.s.raw_log_topic], self.s.topic_partitions,
                           self.s.topic_replication)
        await self.publisher.start()
        log.info("bridge starting at block %d with %d known curves", self.next_block, len(self.registry.curves))
        attempt = 0
        try:
            while True:
                try:
                    async with AsyncWeb3(WebSocketProvider(self.s.blockchain_ws_url, max_connection_retries=1,
                                                           request_timeout=30)) as w3:
                        attempt = 0
                        await self._follow(ChainSource(w3, self.s.chain_id))
                except ConfigError:
                    raise
                except (BridgeError, OSError, TimeoutError, Exception) as exc:  # noqa: BLE001
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    delay = backoff(attempt, cap=self.s.max_backoff_s) * (0.5 + random.random() / 2)
                    log.error("bridge lost the node (%r); reconnecting in %.1fs", exc, delay)
                    attempt += 1
                    await asyncio.sleep(delay)
        finally:
            await self.publisher.stop()

    async def _follow(self, source: ChainSource) -> None:
        node_chain = await source.chain_id_of_node()
        if node_chain != self.s.chain_id:
            raise ConfigError(f"CHAIN_ID is {self.s.chain_id} but the node at BLOCKCHAIN_WS_URL is chain {node_chain}")
        await source.w3.eth.subscribe("newHeads")
        listener = asyncio.ensure_future(self._listen(source.w3))
        try:
            while True:
                if listener.done():
                    listener.result()  # re-raises why the subscription ended
                    raise BridgeError("head subscription ended")
                await self._catch_up(source, await source.head())
                self._woken.clear()
                try:
                    await asyncio.wait_for(self._woken.wait(), self.s.head_timeout_s)
                except TimeoutError:
                    log.debug("no new head in %.0fs; polling", self.s.head_timeout_s)
        finally:
            listener.cancel()

    async def _listen(self, w3: AsyncWeb3[Any]) -> None:
        async for _ in w3.socket.process_subscriptions():
            self._woken.set()

    async def _catch_up(self, source: ChainSource, head: int) -> None:
        while self.next_block <= head:
            a, b = self.step.next_range(self.next_block, head)
            try:
                logs = await source.launchpad_logs(a, b, self.registry)
            except RpcError as exc:
                if exc.range_too_large and self.step.shrink():
                    log.warning("eth_getLogs %d..%d refused (%s); step now %d blocks", a, b, exc.error,
                                self.step.current)
                    continue
                raise
            self.step.success()
            await self.publisher.publish(logs)
            checkpoint.save(self.state_path, checkpoint.Checkpoint(
                self.s.chain_id, self.registry.factory, b, self.registry.curves))
            self.next_block = b + 1
            if logs or b - a > 0:
                log.info("blocks %d..%d: published %d logs (%d curves known, head %d)", a, b, len(logs),
                         len(self.registry.curves), head)
