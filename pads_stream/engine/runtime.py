"""Runs an agent object (`agents.candles.CandleAgent`) on Faust: the seams it needs, made of
Faust's consumer, table and a Kafka client, and the Faust agent, timer and signal that drive
it and its gap recovery."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from faust.types import TP, EventT, StreamT

from ..agents.candles import CandleAgent
from ..candles.batch import Message, decode_position, position_key
from ..kafka_security import KafkaSecurity
from ..redact import redact_handlers
from .batching import ready_batches
from .fetch import seek_in_consumer_thread
from .gaps import RESEEK_AFTER_S, GapRecovery, Offsets
from .guard import ack_processed, release
from .table import PartitionTable

log = logging.getLogger(__name__)
LAG_EVERY_S = 2.0  # consumer lag for /ready and the metrics: one end-offsets request per period
LAG_TIMEOUT_S = 10.0  # an end-offsets request unanswered this long: the lag is unknown


class FaustAcks:
    """The agent's `Acks` seam over Faust's consumer (see `guard`)."""

    def __init__(self, app: faust.App) -> None:
        self.app = app

    def ack(self, handle: EventT) -> None:
        ack_processed(self.app.consumer, handle.message)

    def release(self, handle: EventT) -> None:
        release(self.app.consumer, handle.message)


class KafkaOffsets:
    """Log start and end offsets of one topic, through a client of our own: asking Faust's
    consumer thread can deadlock, as that thread may be waiting for the agent to drain the
    stream buffer."""

    def __init__(self, bootstrap: str, topic: str, security: KafkaSecurity) -> None:
        self.bootstrap, self.topic, self.security = bootstrap, topic, security
        self._client: AIOKafkaConsumer | None = None

    async def _started(self) -> AIOKafkaConsumer:
        if self._client is None:
            client = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                      **self.security.aiokafka_kwargs())
            await client.start()
            self._client = client
        return self._client

    async def beginning(self, partitions: list[int]) -> dict[int, int]:
        client = await self._started()
        found = await client.beginning_offsets([TopicPartition(self.topic, p) for p in partitions])
        return {tp.partition: offset for tp, offset in found.items()}

    async def end(self, partitions: list[int]) -> dict[int, int]:
        client = await self._started()
        found = await client.end_offsets([TopicPartition(self.topic, p) for p in partitions])
        return {tp.partition: offset for tp, offset in found.items()}

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.stop()


def gap_recovery(app: faust.App, topic: str, table: PartitionTable, offsets: KafkaOffsets) -> GapRecovery:
    async def seek(partition: int, offset: int) -> None:
        await seek_in_consumer_thread(app.consumer, TP(topic, partition), offset)

    def assigned() -> set[int]:
        return {tp.partition for tp in app.consumer.assignment() if tp.topic == topic}

    def applied(partition: int) -> int:
        return int(decode_position(table.get(partition, position_key(partition)))["next"])

    return GapRecovery(seek, offsets, assigned, applied)


async def batches(stream: StreamT[bytes], table: PartitionTable, size: int, idle_s: float | None,
                  behind: Callable[[], bool] | None = None,
                  max_tokens: int | None = None, max_cold: int | None = None,
                  is_cold: Callable[[object], bool] | None = None) -> AsyncIterator[tuple[list[Message], list[Any]]]:
    """Faust's events as the agent's messages, each with its event as the handle to ack."""
    async for events in ready_batches(stream, size, idle_s, behind, max_tokens, max_cold, is_cold):
        table.saw(events)
        yield [Message(e.message.partition, e.message.offset, e.key, e.value, e.message.timestamp or 0.0)  # type: ignore[arg-type]
               for e in events], events


IDLE_FLUSH_S = 1.0


def run_candle_agent(app: faust.App, topic: faust.TopicT, table: PartitionTable, agent: CandleAgent,
                     gaps: GapRecovery, offsets: KafkaOffsets, batch_size: int,
                     batch_tokens: int | None = None, batch_cold: int | None = None) -> Callable[..., Awaitable[None]]:
    """Register the Faust agent that feeds `agent`, and what keeps its state right across
    rebalances; returns the Faust agent."""
    name = topic.get_topic_name()

    @app.agent(topic, name="candles")
    async def candles(stream: StreamT[bytes]) -> None:
        # Manual acks (the agent's flush): Faust acks the current event of a cancelled agent,
        # which would commit a log never folded.
        # Idle for a second: flush (and ack) now, however long TABLE_FLUSH_MS lets writes wait.
        await agent.run(batches(stream, table, batch_size, min(agent.flush_s, IDLE_FLUSH_S) or None,
                                lambda: agent.behind(batch_size), batch_tokens, batch_cold, agent.cold))

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def _revoked(sender: object, revoked: set[TP], **_: object) -> None:
        partitions = {tp.partition for tp in revoked if tp.topic == name}
        agent.on_revoked()
        gaps.on_revoked(partitions)
        table.forget(partitions)

    @app.timer(RESEEK_AFTER_S)
    async def _reseek() -> None:
        await reseek(gaps)

    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def _close(sender: object, **_: object) -> None:
        await offsets.close()

    @app.timer(LAG_EVERY_S)
    async def _measure_lag() -> None:
        await measure_lag(agent, gaps, offsets)

    return candles  # type: ignore[return-value]


# An exception out of a Faust timer stops the worker: with Kafka away for 40 s (the client's
# request timeout), the lag's and the stalled-partition check's end-offsets requests did.

async def measure_lag(agent: CandleAgent, gaps: GapRecovery, offsets: Offsets,
                      timeout_s: float = LAG_TIMEOUT_S) -> None:
    """The consumer lag for /ready and the metrics; unknown (and /ready 503) while Kafka does not answer."""
    assigned = sorted(gaps.assigned())
    try:
        ends = await asyncio.wait_for(offsets.end(assigned), timeout_s) if assigned else {}
    except (KafkaError, TimeoutError) as exc:
        reason = (f"Kafka unreachable ({exc!r})" if isinstance(exc, KafkaError)
                  else f"Kafka did not answer in {timeout_s:g} s")
        if agent.lag_error is None:
            log.error("consumer lag unknown: %s; /ready answers 503 until it is measured again", reason)
        agent.on_lag_unknown(reason)
        return
    if agent.lag_error is not None:
        log.warning("consumer lag measured again (%s before)", agent.lag_error)
    agent.on_lag({p: max(0, end - max(gaps.next_offset.get(p, -1), gaps.applied(p), 0)) for p, end in ends.items()})


async def reseek(gaps: GapRecovery) -> None:
    """Gap recovery's timer; a stalled-partition check that cannot reach Kafka waits for the next tick."""
    try:
        await gaps.tick()
    except KafkaError as exc:
        log.error("raw-log partitions: cannot check for stalled partitions, Kafka unreachable: %r", exc)


def recovered(app: faust.App) -> bool:
    """Whether the tables' first recovery after start-up has finished."""
    return bool(app.tables.recovery.completed.is_set())  # type: ignore[attr-defined]


class Worker(faust.Worker):
    """Faust's worker without its startup spinner. To spin on every log record, Faust sets the
    root logger to DEBUG and leaves it there for the process's life: every debug call in
    aiokafka and Faust then builds a LogRecord for nothing (6 % of a busy worker's CPU)."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None
        redact_handlers(logger)  # logging is set up now: no line leaves with a secret in it
