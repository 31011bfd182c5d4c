"""Kafka side of the bridge: idempotent producer with acks=all, in-order sends.

Each log is keyed by the token it is about (`RawLog.key`: the first indexed topic of
CurveCreated, Trade and Graduated; a log whose topic is not an address, by its contract), so a
token's creation, trades, their later removals and the new branch's logs land on one partition
in publish order. Head markers go to every partition so each partition's consumer learns how
far the chain has been published.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aiokafka import AIOKafkaProducer

from pads_stream.chain.rawlog import MARKER_KEY, HeadMarker, RawLog
from pads_stream.kafka_security import KafkaSecurity
from pads_stream.topics import MAX_STATE_BYTES

log = logging.getLogger(__name__)
ACK_STALL_S = 10.0  # Kafka acknowledging nothing for this long is reported (the bridge keeps waiting)


class Publisher:
    def __init__(self, bootstrap: str, topic: str, security: KafkaSecurity,
                 on_stall: Callable[[str | None], None] | None = None,
                 stall_s: float = ACK_STALL_S) -> None:
        """`on_stall(reason)` when Kafka has acknowledged nothing for `stall_s`, `on_stall(None)`
        once it has: the idempotent producer retries a send until the broker takes it, so a
        broker that is away raises nothing, and /health said 200 throughout."""
        self.topic = topic
        self.on_stall, self.stall_s = on_stall, stall_s
        # Up to the raw topic's record limit (pads_stream.topics.LARGE): a log over the default
        # 1 MB was refused on every retry, and the bridge went no further.
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all",
                                         linger_ms=5, max_batch_size=1 << 20, max_request_size=MAX_STATE_BYTES,
                                         **security.aiokafka_kwargs())
        self.published = 0
        self.removed = 0
        self.markers = 0

    async def start(self) -> None:
        await self.producer.start()

    async def stop(self) -> None:
        await self.producer.stop()

    async def publish(self, logs: list[RawLog], marker: HeadMarker | None = None) -> None:
        """Send the logs in order, then the marker to every partition; return only when the
        broker acknowledged all of them."""
        futures = [await self.producer.send(self.topic, lg.encode(), key=lg.key) for lg in logs]
        if marker is not None:
            payload = marker.encode()
            for p in sorted(await self.producer.partitions_for(self.topic)):
                futures.append(await self.producer.send(self.topic, payload, key=MARKER_KEY, partition=p))
        if futures:
            await self._acknowledged(asyncio.ensure_future(asyncio.gather(*futures)), len(futures))
        removed = sum(lg.removed for lg in logs)
        self.removed += removed
        self.published += len(logs) - removed
        self.markers += len(futures) - len(logs)

    async def _acknowledged(self, acks: asyncio.Future[list[object]], n: int) -> None:
        started = time.monotonic()
        try:
            done, _ = await asyncio.wait({acks}, timeout=self.stall_s)
            if not done:
                reason = f"Kafka has not acknowledged {n} records in {self.stall_s:g} s"
                log.error("bridge: %s; waiting (the checkpoint stays where Kafka acknowledged)", reason)
                if self.on_stall is not None:
                    self.on_stall(reason)
                await acks
                log.warning("bridge: Kafka acknowledged the %d records after %.1f s", n, time.monotonic() - started)
                if self.on_stall is not None:
                    self.on_stall(None)
            acks.result()
        except asyncio.CancelledError:
            acks.cancel()
            raise
