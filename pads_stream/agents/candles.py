"""Candle agent, partitioned by token: decodes raw logs and folds them into the token-state
table in batches, then emits one update per touched token on `pads.candle-updates`.

The bridge keys launchpad logs by token, so a token's logs, its state and its updates share
one partition and there is no repartition hop. A batch is whatever the stream has ready (at
most FOLD_BATCH_SIZE): one event when the load is light, so latency stays one event's worth.
The pure work is in `candles.batch`; this agent only reads, sends, writes and acks.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator

from faust.streams import _current_event  # the event a table read or write belongs to
from faust.types import EventT, StreamT

from ..candles.batch import BatchFolder, Message
from ..worker import app, raw_logs, settings, token_state, updates
from .deadletter import send_dead_letter

log = logging.getLogger(__name__)
deep_reorgs: list[str] = []


@app.agent(raw_logs, name="candles")
async def candles(stream: StreamT[bytes]) -> None:
    # Manual acks, after the updates and table writes are handed to the producer: Faust acks
    # the current event of a cancelled agent, which would commit a log never folded. Faust
    # flushes the producer before it commits offsets.
    async for batch in ready_batches(stream, settings.fold_batch_size):
        await fold_batch(batch)
        for event in batch:
            event.ack()


async def ready_batches(stream: StreamT[bytes], size: int) -> AsyncIterator[list[EventT]]:
    queue = stream.channel.queue  # type: ignore[attr-defined]
    batch: list[EventT] = []
    async for event in stream.noack().events():  # type: ignore[attr-defined]
        batch.append(event)
        if len(batch) >= size or queue.empty():
            yield batch
            batch = []


async def fold_batch(batch: list[EventT]) -> None:
    # RocksDB keeps one database per partition and Faust picks it, and the changelog
    # partition, from the current event: point it at an event of the key's partition.
    of_partition = {e.message.partition: e for e in batch}

    def at(partition: int) -> None:
        _current_event.set(weakref.ref(of_partition[partition]))

    def read(partition: int, key: bytes) -> bytes | None:
        at(partition)
        return token_state.get(key)  # type: ignore[no-any-return]

    folder = BatchFolder(read, settings.chain_id, settings.ohlcv_intervals)
    out = folder.run([Message(e.message.partition, e.message.offset, e.key, e.value)  # type: ignore[arg-type]
                      for e in batch])
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
