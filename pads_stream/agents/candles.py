"""Candle agent, partitioned by token: decodes raw logs and folds them into the token-state
table in batches, then emits one update per touched token on `pads.candle-updates`.

The bridge keys launchpad logs by token, so a token's logs, its state and its updates share
one partition and there is no repartition hop. A batch is whatever the stream has ready (at
most FOLD_BATCH_SIZE): one event when the load is light, so latency stays one event's worth.
The pure work is in `candles.batch`; this agent reads, sends, writes, acks, and seeks back
when the table says the consumer skipped records.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.streams import _current_event  # the event a table read or write belongs to
from faust.types import TP, EventT, StreamT

from ..candles.batch import BatchFolder, Message, Outcome
from ..candles.cache import StateCache
from ..faust_guard import ack_processed, release
from ..worker import app, raw_logs, settings, token_state, updates
from .batching import ready_batches
from .deadletter import send_dead_letter

log = logging.getLogger(__name__)
deep_reorgs: list[str] = []
earliest: dict[int, int] = {}  # log start offset per raw partition: where a fresh table begins
_last_seek: dict[int, tuple[int, float]] = {}
open_gaps: dict[int, int] = {}
cache = StateCache(settings.state_cache_size)  # raw partition -> offset sought back to, until it arrives
_offsets_client: AIOKafkaConsumer | None = None
RESEEK_AFTER_S = 1.0
STATS_EVERY_S = 30.0
stats = {"logs": 0, "batches": 0, "updates": 0, "writes": 0}


@app.agent(raw_logs, name="candles")
async def candles(stream: StreamT[bytes]) -> None:
    # Manual acks, after the updates and table writes are handed to the producer: Faust acks
    # the current event of a cancelled agent, which would commit a log never folded. Faust
    # flushes the producer before it commits offsets.
    async for batch in ready_batches(stream, settings.fold_batch_size):
        held = await fold_batch(batch)
        for i, event in enumerate(batch):
            if i in held:
                release(app.consumer, event.message)
            else:
                ack_processed(app.consumer, event.message)


async def fold_batch(batch: list[EventT]) -> set[int]:
    """Fold, send, write; returns the indices of events held back behind a gap."""
    # RocksDB keeps one database per partition and Faust picks it, and the changelog
    # partition, from the current event: point it at an event of the key's partition.
    of_partition = {e.message.partition: e for e in batch}
    await _learn_earliest([p for p in of_partition if p not in earliest])

    def at(partition: int) -> None:
        _current_event.set(weakref.ref(of_partition[partition]))

    def read(partition: int, key: bytes) -> bytes | None:
        at(partition)
        return token_state.get(key)  # type: ignore[no-any-return]

    folder = BatchFolder(read, settings.chain_id, settings.ohlcv_intervals, floor=earliest,
                         cache=cache if cache.max_tokens else None)
    try:
        out = folder.run([Message(e.message.partition, e.message.offset, e.key, e.value)  # type: ignore[arg-type]
                          for e in batch])
        await _send_and_write(batch, out, at)
        stats["logs"] += len(batch)
        stats["batches"] += 1
        stats["updates"] += len(out.updates)
        stats["writes"] += len(out.writes)
    except BaseException:
        cache.clear()  # states were changed in place; the table has what counts
        raise
    cache.keep(folder.states)
    for partition in of_partition.keys() - out.gaps.keys():
        open_gaps.pop(partition, None)
    for partition, (expected, got) in out.gaps.items():
        await _seek_back(partition, expected, got)
    return set(out.held)


async def _send_and_write(batch: list[EventT], out: Outcome, at: Callable[[int], None]) -> None:
    for reason in out.deep_reorgs:
        deep_reorgs.append(reason)
        log.critical("%s; run `python -m pads_stream replay` to rebuild", reason)
    for i, reason in out.dead:
        await send_dead_letter(batch[i], "candles", reason)
    # The table is written only once Kafka has the updates: a state that survives an
    # interruption then implies its updates did, and a redelivered log needs nothing re-sent.
    sent = [await updates.send(key=key, value=value) for key, value in out.updates]
    if sent:
        await asyncio.gather(*sent)
    for partition, key, value in out.writes:
        at(partition)
        if value is None:
            token_state.pop(key, None)
        else:
            token_state[key] = value


async def _learn_earliest(partitions: list[int]) -> None:
    # Through a client of our own: asking Faust's consumer thread can deadlock, as that
    # thread may be waiting for this agent to drain the stream buffer.
    global _offsets_client
    if not partitions:
        return
    if _offsets_client is None:
        client = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
        await client.start()
        _offsets_client = client
    tps = [TopicPartition(raw_logs.get_topic_name(), p) for p in partitions]
    for tp, offset in (await _offsets_client.beginning_offsets(tps)).items():
        earliest[tp.partition] = offset


async def _seek_back(partition: int, expected: int, got: int) -> None:
    await _learn_earliest([partition])  # retention may have deleted what the table expects
    target = max(expected, earliest[partition])
    if target > expected:
        log.error("raw partition %d: offsets %d..%d were deleted by Kafka's retention before they were "
                  "applied; continuing from %d (run `python -m pads_stream check`)", partition, expected,
                  target - 1, target)
    last = _last_seek.get(partition)
    now = time.monotonic()
    if last is not None and last[0] == target and now - last[1] < RESEEK_AFTER_S:
        return  # the records fetched before that seek are still draining
    log.warning("raw partition %d: the consumer skipped offsets %d..%d; reading again from %d",
                partition, expected, got - 1, target)
    await _seek(partition, target)


async def _seek(partition: int, offset: int) -> None:
    open_gaps[partition] = offset
    _last_seek[partition] = (offset, time.monotonic())
    await app.consumer.seek(TP(raw_logs.get_topic_name(), partition), offset)


@app.on_partitions_revoked.connect  # type: ignore[arg-type]
async def _forget_states(sender: object, revoked: set[TP], **_: object) -> None:
    # A partition may come back after another worker changed its states.
    cache.clear()


@app.on_before_shutdown.connect  # type: ignore[arg-type]
async def _close_offsets_client(sender: object, **_: object) -> None:
    global _offsets_client
    if _offsets_client is not None:
        client, _offsets_client = _offsets_client, None
        await client.stop()


@app.timer(RESEEK_AFTER_S)
async def reseek_open_gaps() -> None:
    """Seek again where the sought records have not come: Faust's fetcher can overwrite a
    seek with the read position of records it fetched just before it."""
    topic = raw_logs.get_topic_name()
    assigned = {tp.partition for tp in app.consumer.assignment() if tp.topic == topic}
    for partition, offset in list(open_gaps.items()):
        if partition not in assigned:
            open_gaps.pop(partition, None)
        elif time.monotonic() - _last_seek[partition][1] >= RESEEK_AFTER_S:
            log.warning("raw partition %d: offset %d has not come yet; seeking to it again", partition, offset)
            await _seek(partition, offset)


@app.timer(STATS_EVERY_S)
async def log_stats() -> None:
    """What the agent did lately: batch sizes say whether per-batch costs or per-log costs rule."""
    if stats["batches"]:
        log.info("candles: %d logs in %d batches (%.1f per batch), %d updates sent, %d table writes "
                 "in the last %.0f s", stats["logs"], stats["batches"], stats["logs"] / stats["batches"],
                 stats["updates"], stats["writes"], STATS_EVERY_S)
    for k in stats:
        stats[k] = 0
