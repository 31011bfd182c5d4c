"""Kafka side of the bridge: idempotent producer with acks=all, topic provisioning."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaProducer

from pads_stream.chain.rawlog import RawLog

log = logging.getLogger(__name__)


class Publisher:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all",
                                         linger_ms=5, max_batch_size=1 << 20)
        self.published = 0

    async def start(self) -> None:
        await self.producer.start()

    async def stop(self) -> None:
        await self.producer.stop()

    async def publish(self, logs: list[RawLog]) -> None:
        """Send in order and return only when the broker acknowledged every log."""
        futures = [await self.producer.send(self.topic, lg.encode(), key=lg.key) for lg in logs]
        if futures:
            await asyncio.gather(*futures)
        self.published += len(logs)
