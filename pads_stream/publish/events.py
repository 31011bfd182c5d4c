"""The domain-events sink: each batch's events to MARKET_EVENTS_TOPIC, durable.

Durable like the Redis mirror: `write` returns once Kafka acknowledged every event of the
batch (acks=all), before the table write and the ack of the logs that caused them, so a crash
never loses one. It retries until Kafka takes them; an event sent twice that way, or made
again after a redelivery, has the same id (`alerts.events`), which is how consumers (and the
notifier) drop the second. Keyed by token: one token's events stay in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from ..candles.output import TokenOutput
from ..kafka_security import KafkaSecurity
from ..sinks import SinkHealth

log = logging.getLogger(__name__)

RETRY_MAX_S = 5.0


class EventPublisher:
    name = "events"

    def __init__(self, bootstrap: str, security: KafkaSecurity, topic: str) -> None:
        self.bootstrap, self.security, self.topic = bootstrap, security, topic
        self.producer: AIOKafkaProducer | None = None
        self.sent = 0
        self.retries = 0
        self.last_error: str | None = None

    async def start(self) -> None:
        self.producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=5,
                                         max_request_size=4 << 20, **self.security.aiokafka_kwargs())
        await self.producer.start()

    async def write(self, outputs: Sequence[TokenOutput]) -> None:
        batch = [(o.token.encode(), ev) for o in outputs for ev in o.events]
        if not batch:
            return
        delay = 0.1
        while True:
            try:
                await self._send(batch)
                self.sent += len(batch)
                self.last_error = None
                return
            except KafkaError as exc:
                self.retries += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("%d market events not acknowledged by Kafka (%s); retrying in %.1fs",
                            len(batch), self.last_error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)

    async def _send(self, batch: list[tuple[bytes, bytes]]) -> None:
        assert self.producer is not None, "start() first"
        futures: list[Any] = [await self.producer.send(self.topic, ev, key=key) for key, ev in batch]
        await asyncio.gather(*futures)

    async def health(self) -> SinkHealth:
        problems = [f"market events: Kafka does not take them ({self.last_error})"] if self.last_error else []
        return SinkHealth(problems, {"events": {"sent": self.sent, "retries": self.retries}})

    def counts(self) -> dict[str, float]:
        return {"sent": self.sent, "retries": self.retries}

    async def stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
