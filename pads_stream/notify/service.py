"""`python -m pads_stream notify`: the composition of the notifier and its life cycle.

Start-up order matters: the rules topic is read to its end before anything is sent (else a
pending delivery whose rule is not read yet would look like one whose rule was deleted), and
the delivery loop resumes what Redis holds before new events come in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from redis.asyncio import Redis
from redis.exceptions import RedisError

from ..agents.deadletter import DeadLetters
from ..candles.batch import Message
from ..errors import ConfigError
from ..topics import ensure_topics
from .deliver import Deliverer
from .ingest import Ingest
from .metrics import Counters, serve
from .rules import RuleLookup, StoreRules
from .schedule import Backoff
from .settings import NotifySettings
from .state import Item, NotifyState

log = logging.getLogger(__name__)


async def _topics(s: NotifySettings) -> None:
    kw: dict[str, Any] = {"partitions": s.topic_partitions, "replication": s.topic_replication}
    await ensure_topics(s.kafka_bootstrap_servers, s.kafka_security, [s.market_events_topic, s.dead_letter_topic],
                        large=(s.dead_letter_topic,), **kw)
    try:  # the API owns the rules topic: create it if missing, but any partition count will do
        await ensure_topics(s.kafka_bootstrap_servers, s.kafka_security, [s.alert_rules_topic],
                            compacted=(s.alert_rules_topic,), **kw)
    except ConfigError as exc:
        if "partition" not in str(exc):
            raise


async def run(s: NotifySettings, rules: RuleLookup | None = None) -> None:
    await _topics(s)
    security = s.kafka_security.aiokafka_kwargs()
    redis = Redis.from_url(s.redis_url)
    rules = rules or StoreRules.reading(s.kafka_bootstrap_servers, s.kafka_security, s.alert_rules_topic)
    producer = AIOKafkaProducer(bootstrap_servers=s.kafka_bootstrap_servers, acks="all",
                                max_request_size=16 << 20, **security)
    consumer = AIOKafkaConsumer(s.market_events_topic, bootstrap_servers=s.kafka_bootstrap_servers,
                                group_id=s.notify_group, enable_auto_commit=False, auto_offset_reset="earliest",
                                **security)
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, limit_per_host=s.webhook_concurrency))
    counters = Counters()
    state = NotifyState(redis, s.notify_prefix)

    async def dead_letter(item: Item, reason: str) -> None:
        o = item.origin
        letters = DeadLetters(lambda k, v: producer.send_and_wait(s.dead_letter_topic, v, key=k), o.topic)
        await letters(Message(o.partition, o.offset, o.key, item.body), "notify", reason)

    backoff = Backoff(s.webhook_retry_base_ms / 1000, s.webhook_retry_cap_ms / 1000, s.webhook_retry_for,
                      random.Random())
    deliverer = Deliverer(state, rules, backoff, session, counters, dead_letter, s.webhook_timeout_ms / 1000,
                          s.webhook_concurrency, s.webhook_queue)
    ingest = Ingest(consumer, state, rules, counters, deliverer.wake)
    tasks: list[asyncio.Task[None]] = []

    async def health() -> tuple[int, dict[str, Any]]:
        problems = [f"{t.get_name()} stopped" for t in tasks if t.done()]
        try:
            await asyncio.wait_for(redis.ping(), 2)
            counters.pending = await state.pending()
        except (RedisError, TimeoutError) as exc:
            problems.append(f"redis unreachable: {type(exc).__name__}")
        body = {"ok": not problems, "problems": problems, **counters.as_dict(),
                "endpoints": len(deliverer.endpoints)}
        return (503 if problems else 200), body

    runner = None
    try:
        await producer.start()
        await rules.start()
        await rules.wait_caught_up()
        await consumer.start()
        runner = await serve(s.notify_host, s.notify_port, counters, health)
        log.info("notify: %d deliveries pending in Redis; reading %s as group %s; /metrics on %s:%d",
                 await state.pending(), s.market_events_topic, s.notify_group, s.notify_host, s.notify_port)
        tasks = [asyncio.create_task(deliverer.run(), name="delivery"),
                 asyncio.create_task(ingest.run(), name="ingest"),
                 asyncio.create_task(_count_pending(state, counters), name="pending gauge")]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        for t in tasks:
            if t.done() and not t.cancelled() and t.exception() is not None:
                raise t.exception()  # type: ignore[misc]
        log.info("notify: stopping")
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if runner is not None:
            await runner.cleanup()
        for closing in (consumer.stop(), rules.stop(), producer.stop(), session.close(), redis.aclose()):
            with contextlib.suppress(Exception):
                await closing


async def _count_pending(state: NotifyState, counters: Counters) -> None:
    while True:
        with contextlib.suppress(RedisError):
            counters.pending = await state.pending()
        await asyncio.sleep(5)
