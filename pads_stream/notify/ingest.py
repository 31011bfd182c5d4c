"""From the market-events topic to the delivery state: keeps `alert` and `alert_retracted`
events whose rule has a webhook and records them in Redis before their offsets are committed.

A crash between the two only makes Kafka deliver the batch again, and recording is idempotent
(state.RECORD), so an event is neither lost nor sent twice.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from redis.exceptions import RedisError

from ..redact import redact
from .metrics import Counters
from .rules import RuleLookup
from .state import NotifyState, Origin

log = logging.getLogger(__name__)

KINDS = ("alert", "alert_retracted")
EVENT_ID = re.compile(r"^[0-9a-f]{32}$")
CATCH_UP_S = 10.0  # at most this long for the rules topic, when an alert names a rule not read yet


@dataclass(frozen=True)
class AlertEvent:
    id: str
    type: str
    rule: str


def parse(value: bytes | None) -> AlertEvent | str | None:
    """The alert in a market event; None for other events; a string saying what is wrong."""
    if value is None:
        return None
    try:
        event: Any = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return f"not JSON ({exc})"
    if not isinstance(event, dict) or event.get("type") not in KINDS:
        return None
    data = event.get("data")
    rule = data.get("rule_id") if isinstance(data, dict) else None
    if not isinstance(event.get("id"), str) or not EVENT_ID.match(event["id"]):
        return "no event id of 32 hex digits"
    if not isinstance(rule, str) or not rule:
        return "no data.rule_id"
    return AlertEvent(event["id"], event["type"], rule)


class Ingest:
    def __init__(self, consumer: AIOKafkaConsumer, state: NotifyState, rules: RuleLookup, counters: Counters,
                 wake: Callable[[], None], clock: Callable[[], float] = time.time) -> None:
        self.consumer, self.state, self.rules, self.counters = consumer, state, rules, counters
        self.wake, self.clock = wake, clock

    async def run(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=500, max_records=500)
            if batch:
                await self.take(batch)

    async def take(self, batch: dict[TopicPartition, list[Any]]) -> None:
        found: list[tuple[AlertEvent, Any]] = []
        for msgs in batch.values():
            for m in msgs:
                parsed = parse(m.value)
                if isinstance(parsed, str):
                    log.warning("%s[%d]@%d: not an alert event notify can use: %s", m.topic, m.partition,
                                m.offset, parsed)
                elif parsed is not None:
                    if parsed.type == "alert":
                        self.counters.fired += 1
                    else:
                        self.counters.retracted += 1
                    found.append((parsed, m))
        if any(self.rules.get(e.rule) is None for e, _ in found):
            # The API writes a rule before the records that make it fire: a rule we do not know
            # yet is most likely still unread in the rules topic.
            try:
                await asyncio.wait_for(self.rules.wait_caught_up(), CATCH_UP_S)
            except TimeoutError:
                log.warning("the alert-rules topic was not read to its end in %.0f s", CATCH_UP_S)
        events = [(e.id, e.rule, e.type, m.value, Origin(m.topic, m.partition, m.offset, m.key or b""))
                  for e, m in found if self.rules.get(e.rule) is not None]
        await self._record(events)
        if events:
            self.wake()
        try:
            await self.consumer.commit({tp: msgs[-1].offset + 1 for tp, msgs in batch.items() if msgs})
        except KafkaError as exc:
            # A rebalance took the partitions: their next owner reads the batch again, and
            # finds its events recorded already.
            log.warning("committing the offsets of %d events failed (%s); they will be read again",
                        sum(len(m) for m in batch.values()), exc)

    async def _record(self, events: list[tuple[str, str, str, bytes, Origin]]) -> None:
        delay = 0.2
        while True:
            try:
                new = await self.state.record(events, self.clock())
                break
            except RedisError as exc:  # nothing is committed meanwhile: the batch waits for Redis
                log.error("recording %d alert events in Redis failed (%s); retrying in %.1f s", len(events),
                          redact(str(exc)), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        self.counters.recorded += sum(new)
        for (event_id, rule, kind, _, _), fresh in zip(events, new, strict=True):
            log.info("%s %s (rule %s) %s", kind, event_id, rule,
                     "recorded for delivery" if fresh else "already recorded or delivered: skipped")
