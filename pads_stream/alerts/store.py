"""Rules on Kafka: the compacted topic `pads.alert-rules` (the full rule, webhook included) read
whole and tailed into a dict, and `put`/`delete`, which also write the rule's control record
to every partition of the raw-log topic, where the fold applies it in order with the logs.

The reader uses no consumer group: every API process and notifier holds every rule. The
producer starts on the first write, so a reader (the notifier) needs no write access.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from ..errors import DecodeError, PadsStreamError
from ..kafka_security import KafkaSecurity, refusal
from .rules import RULE_KEY, Rule, deletion_record, rule_from_store

log = logging.getLogger(__name__)


class RulesUnavailable(PadsStreamError):
    """Kafka did not take or give the rules (away, refused, missing topic); retrying can help."""

    retriable = True


class RuleStore:
    def __init__(self, bootstrap: str, security: KafkaSecurity, topic: str = "pads.alert-rules", *,
                 raw_log_topic: str | None = None, chain_id: int = 0, timeout_s: float = 30.0) -> None:
        self.bootstrap, self.security, self.topic = bootstrap, security, topic
        self.raw_log_topic, self.chain_id, self.timeout_s = raw_log_topic, chain_id, timeout_s
        self._rules: dict[str, Rule] = {}
        self._positions: dict[TopicPartition, int] = {}
        self._moved = asyncio.Condition()
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._producer_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> RuleStore:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Assign every partition of the topic from its beginning and start tailing it."""
        try:
            await self._start()
        except BaseException:
            await self.stop()  # a half-started client closed, not left for the collector to report
            raise

    async def _start(self) -> None:
        c = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
                             auto_offset_reset="earliest", request_timeout_ms=int(self.timeout_s * 1000),
                             **self.security.aiokafka_kwargs())
        self._consumer = c
        try:
            await c.start()
            tps = await self._partitions()
        except KafkaError as exc:
            raise (await refusal(self.bootstrap, self.security)
                   or RulesUnavailable(f"KAFKA_BOOTSTRAP_SERVERS: cannot reach {self.bootstrap}: {exc!r}")) from None
        c.assign(tps)
        await c.seek_to_beginning(*tps)
        self._positions = {tp: await c.position(tp) for tp in tps}
        self._task = asyncio.create_task(self._tail(c), name=f"rules-reader-{self.topic}")

    async def _partitions(self) -> list[TopicPartition]:
        # Described for all topics: a metadata request naming a missing topic could make the broker create it.
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=int(self.timeout_s * 1000),
                                    **self.security.aiokafka_kwargs())
        try:
            await admin.start()
            described = await admin.describe_topics(None)
        finally:
            await admin.close()
        counts = {t["topic"]: len(t["partitions"]) for t in described if not t["error_code"]}
        if not counts.get(self.topic):
            raise RulesUnavailable(f"topic {self.topic} does not exist (ALERT_RULES_TOPIC)")
        return [TopicPartition(self.topic, p) for p in range(counts[self.topic])]

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for client in (self._consumer, self._producer):
            if client is not None:
                await client.stop()
        self._task = self._consumer = self._producer = None

    async def _tail(self, c: AIOKafkaConsumer) -> None:
        while True:
            try:
                batches = await c.getmany(timeout_ms=500, max_records=5000)
                for records in batches.values():
                    for rec in records:
                        self._apply(rec.key, rec.value)
                moved = {tp: await c.position(tp) for tp in self._positions}
            except KafkaError as exc:  # the broker away for a while: the reader goes on from where it is
                log.warning("reading %s: %r", self.topic, exc)
                await asyncio.sleep(1)
                continue
            async with self._moved:
                self._positions = moved
                self._moved.notify_all()

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        if value is None:
            self._rules.pop(key.decode(errors="replace"), None)
            return
        try:
            rule = rule_from_store(value)
        except DecodeError as exc:  # another writer's garbage must not stop the reader
            log.warning("skipping a record of %s: %s", self.topic, exc)
            return
        self._rules[rule.id] = rule

    def get(self, rule_id: str) -> Rule | None:
        return self._rules.get(rule_id)

    def __len__(self) -> int:
        return len(self._rules)

    def by_owner(self, owner: str) -> list[Rule]:
        """The owner's rules, oldest first."""
        return sorted((r for r in self._rules.values() if r.owner == owner), key=lambda r: (r.created_at, r.id))

    async def wait_caught_up(self, timeout_s: float | None = None) -> None:
        """Until the reader applied every record the topic held when this was called."""
        if self._consumer is None:
            raise RulesUnavailable("the rule store is not started")
        end = await self._consumer.end_offsets(list(self._positions))
        await self._wait(end, timeout_s)

    async def _wait(self, end: dict[TopicPartition, int], timeout_s: float | None) -> None:
        async with self._moved:
            try:
                await asyncio.wait_for(self._moved.wait_for(
                    lambda: all(self._positions.get(tp, 0) >= off for tp, off in end.items())),
                    timeout_s or self.timeout_s)
            except TimeoutError:
                raise RulesUnavailable(f"reading {self.topic} did not catch up in {timeout_s or self.timeout_s:.0f}s")\
                    from None

    async def put(self, rule: Rule) -> None:
        """The rule on the compacted topic, then its record on every raw-log partition, all
        acknowledged by every in-sync replica; returns once this store's reader has it."""
        await self._write(rule.id, rule.store_value(), rule.raw_record(self.chain_id))

    async def delete(self, rule_id: str) -> None:
        """A tombstone on the compacted topic, then the null record on every raw-log partition."""
        await self._write(rule_id, None, deletion_record(rule_id, self.chain_id))

    async def _write(self, rule_id: str, value: bytes | None, record: bytes) -> None:
        if self.raw_log_topic is None:
            raise RulesUnavailable("this rule store has no raw-log topic to publish rules to")
        p = await self._started_producer()
        try:
            meta = await p.send_and_wait(self.topic, value, key=rule_id.encode())
            partitions = sorted(await p.partitions_for(self.raw_log_topic))
            sent = [await p.send(self.raw_log_topic, record, key=RULE_KEY, partition=i) for i in partitions]
            await asyncio.gather(*sent)
        except KafkaError as exc:
            raise RulesUnavailable(f"writing rule {rule_id}: {exc!r}") from None
        await self._wait({TopicPartition(meta.topic, meta.partition): meta.offset + 1}, None)

    async def _started_producer(self) -> AIOKafkaProducer:
        async with self._producer_lock:
            if self._producer is None:
                p = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all",
                                     request_timeout_ms=int(self.timeout_s * 1000), **self.security.aiokafka_kwargs())
                try:
                    await p.start()
                except KafkaError as exc:
                    await p.stop()
                    raise (await refusal(self.bootstrap, self.security)
                           or RulesUnavailable(f"KAFKA_BOOTSTRAP_SERVERS: cannot reach {self.bootstrap}: {exc!r}"))\
                        from None
                self._producer = p
            return self._producer
