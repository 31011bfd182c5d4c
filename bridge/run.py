"""The bridge loop: resume from the checkpoint, backfill to head, then follow new heads.

A newHeads subscription only wakes the loop; every block range is read with eth_getLogs, so
backfill and live share one gap-free path. A silent socket is caught by the head watchdog.
Before each range the last published block's hash is compared with the chain's; on a reorg
the orphaned logs are published again with removed=true and the bridge resumes after the
common ancestor, so removals always precede the new branch's logs on each partition.
"""

from __future__ import annotations

import asyncio
import logging
import random
from pathlib import Path
from typing import Any

from aiokafka.errors import KafkaError
from web3 import AsyncWeb3, WebSocketProvider
from web3.exceptions import TimeExhausted

from pads_stream.chain.rawlog import HeadMarker
from pads_stream.topics import ensure_topics

from . import checkpoint
from .errors import BridgeError, ChainMoved, CheckpointError, CheckpointWriteError, ConfigError, RpcError
from .headwatch import HeadWatch
from .publisher import Publisher
from .ranges import AdaptiveStep, backoff
from .registry import CurveRegistry
from .reorg import RecentChain, hash_window
from .settings import BridgeSettings
from .source import ChainSource
from .status import BridgeStatus, serve

log = logging.getLogger("bridge")
MAX_CHAIN_MOVED = 5
STABLE_S = 60.0  # a connection that lasted this long resets the reconnect backoff
REQUEST_TIMEOUT_S = 30.0  # a range read that takes longer is too large for the node: the step halves


class NodeSocket(WebSocketProvider):
    """web3's WebSocket provider, returning a JSON-RPC error to the request it answers."""

    def _raise_stray_errors_from_cache(self) -> None:
        # The bridge reads with raw requests (ChainSource.call), of which web3 keeps no record, so
        # it took every error answer for a stray one and raised it in its listener, ending the
        # connection: a rate limit or a refused range became a reconnect, and the step never
        # shrank. Each answer waits for its request instead, which raises it as an RpcError.
        return None


def node_provider(s: BridgeSettings) -> WebSocketProvider:
    """The node's WebSocket. A socket can freeze while staying open (a stuck load balancer, a
    lost NAT entry): then every request waited out the request timeout, once per halved range,
    and closing the socket waited 10 s more. A ping every BRIDGE_HEAD_TIMEOUT_S (T), which must
    be answered within T, closes such a socket, failing the waiting request, at most
    2T + min(T, 10 s) after it froze, however long the request itself may take."""
    return NodeSocket(s.blockchain_ws_url, max_connection_retries=1, request_timeout=REQUEST_TIMEOUT_S,
                      websocket_kwargs={"ping_interval": s.head_timeout_s, "ping_timeout": s.head_timeout_s,
                                        "close_timeout": min(s.head_timeout_s, 10.0)})


def what_failed(exc: BaseException) -> str:
    """Which dependency an error came from, for the log line an operator reads first."""
    if isinstance(exc, KafkaError):
        return "Kafka"
    if isinstance(exc, CheckpointWriteError):
        return "the checkpoint disk"
    return "the node"


METRIC_LABEL = {"Kafka": "kafka", "the checkpoint disk": "checkpoint", "the node": "node"}


class Bridge:
    def __init__(self, settings: BridgeSettings) -> None:
        self.s = settings
        self.state_path = Path(settings.state_file)
        cp = checkpoint.load(self.state_path, settings.chain_id, settings.bonding_curve_factory_address)
        self.next_block = cp.last_block + 1 if cp else settings.start_block
        self.registry = CurveRegistry(settings.bonding_curve_factory_address, cp.curves if cp else None)
        self.recent = self._load_recent(cp)
        self.step = AdaptiveStep(settings.batch_size)
        self.publisher = Publisher(settings.kafka_bootstrap_servers, settings.raw_log_topic, settings.kafka_security,
                                   on_stall=lambda why: self.status.connection(why is None, why))
        self._woken = asyncio.Event()
        self.watch = HeadWatch(settings.head_timeout_s)
        self.status = BridgeStatus(self.watch, settings.ready_max_lag)
        self._unsaved = False  # published further than the checkpoint file says

    def _load_recent(self, cp: checkpoint.Checkpoint | None) -> RecentChain:
        try:
            recent = RecentChain.from_data(cp.recent if cp else [], self.s.finality_depth)
        except ValueError as exc:
            raise CheckpointError(f"{self.state_path}: {exc}: delete it or point BRIDGE_STATE_FILE elsewhere") from None
        newest = recent.newest
        if newest is not None and newest.number != self.next_block - 1:
            log.warning("checkpoint retains blocks up to %d but ends at %d; dropping them", newest.number,
                        self.next_block - 1)
            return RecentChain(self.s.finality_depth)
        return recent

    async def _save(self) -> None:
        cp = checkpoint.Checkpoint(self.s.chain_id, self.registry.factory, self.next_block - 1,
                                   set(self.registry.curves), self.recent.to_data())
        # Rewritten every block and holding the retained logs: keep the file I/O off the loop.
        self._unsaved = True
        try:
            await asyncio.to_thread(checkpoint.save, self.state_path, cp)
        except OSError as exc:
            raise CheckpointWriteError(f"cannot write the checkpoint {self.state_path}: {exc}") from exc
        self._unsaved = False

    async def run(self) -> None:
        try:
            await ensure_topics(self.s.kafka_bootstrap_servers, self.s.kafka_security, [self.s.raw_log_topic],
                                self.s.topic_partitions, self.s.topic_replication, forever=(self.s.raw_log_topic,),
                                large=(self.s.raw_log_topic,))
            await self.publisher.start()
        except BaseException:
            await self.publisher.stop()  # made in __init__: closed, not left for the collector to report
            raise
        log.info("bridge starting at block %d with %d known curves", self.next_block, len(self.registry.curves))
        runner = await serve(self.status, self.s.web_host, self.s.web_port) if self.s.web_port else None
        attempt = 0
        loop = asyncio.get_running_loop()
        try:
            while True:
                started = loop.time()
                try:
                    if self._unsaved:
                        # The last checkpoint did not reach the disk: publish nothing more until it does.
                        await self._save()
                    async with AsyncWeb3(node_provider(self.s)) as w3:
                        await self._follow(ChainSource(w3, self.s.chain_id))
                except ConfigError:
                    raise
                except (BridgeError, OSError, TimeoutError, Exception) as exc:  # noqa: BLE001
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    # Only a connection that held a while resets the backoff: one that fails right
                    # after connecting (a rate-limited or broken provider) is not hammered.
                    if loop.time() - started >= STABLE_S:
                        attempt = 0
                    delay = backoff(attempt, cap=self.s.max_backoff_s) * (0.5 + random.random() / 2)
                    what = what_failed(exc)
                    self.status.connection(False, f"{what} failed: {exc!r}", METRIC_LABEL[what])
                    log.error("bridge: %s failed (%r); starting over in %.1fs", what, exc, delay)
                    attempt += 1
                    await asyncio.sleep(delay)
        finally:
            await self.publisher.stop()
            if runner is not None:
                await runner.cleanup()

    async def _follow(self, source: ChainSource) -> None:
        node_chain = await source.chain_id_of_node()
        if node_chain != self.s.chain_id:
            raise ConfigError(f"CHAIN_ID is {self.s.chain_id} but the node at BLOCKCHAIN_WS_URL is chain {node_chain}")
        await source.w3.eth.subscribe("newHeads")
        listener = asyncio.ensure_future(self._listen(source.w3))
        self.status.connection(True)
        woken = True
        try:
            while True:
                if listener.done():
                    listener.result()  # re-raises why the subscription ended
                    raise BridgeError("head subscription ended")
                before = self.watch.head
                head = await source.head()
                moved = self.status.saw_head(head)
                if self.watch.after_poll(woken, moved):
                    # Woken by the watchdog, not the subscription, while blocks kept coming.
                    log.warning("newHeads said nothing while the head moved from %s to %d; subscribing again",
                                before, head)
                    self.status.resubscribed.inc()
                    await source.w3.eth.subscribe("newHeads")
                await self._catch_up(source, head)
                self._woken.clear()
                timeout = self.watch.timeout()
                try:
                    await asyncio.wait_for(self._woken.wait(), timeout)
                    woken = True
                except TimeoutError:
                    woken = False
                    log.debug("no new head in %.1fs; polling", timeout)
        finally:
            listener.cancel()

    async def _listen(self, w3: AsyncWeb3[Any]) -> None:
        async for _ in w3.socket.process_subscriptions():
            self._woken.set()

    async def _catch_up(self, source: ChainSource, head: int) -> None:
        await self._check_reorg(source)
        moved = limited = 0
        while self.next_block <= head:
            a, b = self.step.next_range(self.next_block, head)
            window = hash_window(a, b, head, self.s.finality_depth)
            try:
                headers, logs = await source.read_range(a, b, window, self.recent.hash_of(window.start - 1),
                                                        self.registry)
            except RpcError as exc:
                if exc.rate_limited:
                    # Not the range's fault: wait as asked (or back off), then the same range again.
                    limited += 1
                    self.status.rate_limited.inc()
                    wait = exc.retry_after or backoff(limited - 1, base=0.5, cap=self.s.max_backoff_s)
                    log.warning("blocks %d..%d: the node is rate-limiting (%s); asking again in %.1fs", a, b,
                                exc.error, wait)
                    await asyncio.sleep(wait)
                    continue
                if exc.range_too_large and self.step.shrink():
                    log.warning("eth_getLogs %d..%d refused (%s); step now %d blocks", a, b, exc.error,
                                self.step.current)
                    continue
                raise
            except (TimeoutError, TimeExhausted) as exc:
                # A range that takes too long to answer is too large for this node.
                if self.step.shrink():
                    log.warning("blocks %d..%d: no answer in time (%r); step now %d blocks", a, b, exc,
                                self.step.current)
                    continue
                raise
            except ChainMoved as exc:
                moved += 1
                if moved > MAX_CHAIN_MOVED:
                    raise BridgeError(f"blocks {a}..{b} kept changing while being read: {exc}") from None
                log.warning("blocks %d..%d changed while being read (%s); reading them again", a, b, exc)
                await asyncio.sleep(backoff(moved, base=0.1, cap=self.s.max_backoff_s))
                await self._check_reorg(source)
                head = await source.head()
                continue
            moved = limited = 0
            self.step.success()
            marker = HeadMarker(self.s.chain_id, b, headers[-1].hash, max(b - self.s.finality_depth, 0),
                                await source.timestamp(headers[-1].hash))
            await self.publisher.publish(logs, marker)
            self.recent.record(headers, logs)
            self.next_block = b + 1
            await self._save()
            self.status.published_up_to(b, len(logs))
            if logs or b - a > 0:
                log.info("blocks %d..%d: published %d logs (%d curves known, head %d, %d blocks retained)", a, b,
                         len(logs), len(self.registry.curves), head, len(self.recent.blocks))
            if self.next_block <= head:
                await self._check_reorg(source)

    async def _check_reorg(self, source: ChainSource) -> None:
        """Undo the published blocks the chain no longer has, if any."""
        newest = self.recent.newest
        if newest is None:
            return
        current = await source.header(newest.number)
        if current is not None and current.hash == newest.hash:
            return
        if current is None:
            head = await source.head()
            if head < newest.number:
                # A node behind what was published (a lagging backend of a load-balanced RPC)
                # answers null for the newest blocks: not a reorg. Wait for it to catch up.
                log.warning("the node's head %d is behind block %d, already published: waiting for it "
                            "(not taken for a reorg)", head, newest.number)
                return
        # Walk back one block at a time: a reorg is usually a block or two deep.
        chain: dict[int, str | None] = {}
        for n in self.recent.numbers_newest_first():
            h = current if n == newest.number else await source.header(n)
            chain[n] = h.hash if h else None
            if chain[n] == self.recent.hash_of(n):
                break
        ancestor = self.recent.common_ancestor(chain)
        deep = ancestor is None
        if ancestor is None:
            ancestor = self.recent.blocks[0].number - 1  # all we can undo: every retained block
        removed = self.recent.orphaned(ancestor)
        await self.publisher.publish(removed)
        self.recent.truncate(ancestor)
        self.next_block = ancestor + 1
        await self._save()
        self.status.reorg(newest.number - ancestor, len(removed))
        if deep:
            log.critical("reorg deeper than FINALITY_DEPTH=%d: all %d retained blocks %d..%d replaced (depth > %d), "
                         "%d logs removed; reading again from block %d. Replaced blocks below it keep their "
                         "published logs, so candles before block %d may be wrong. To rebuild: republish the "
                         "chain into a new RAW_LOG_TOPIC (a bridge with a fresh BRIDGE_STATE_FILE and START_BLOCK), "
                         "then run `python -m pads_stream replay` on it", self.s.finality_depth, len(chain), ancestor + 1,
                         newest.number, len(chain), len(removed), ancestor + 1, ancestor + 1)
        else:
            log.warning("reorg: blocks %d..%d replaced (depth %d), %d logs removed; resuming at block %d",
                        ancestor + 1, newest.number, newest.number - ancestor, len(removed), ancestor + 1)
