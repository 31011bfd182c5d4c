"""Candle agent, partitioned by token: decodes raw logs and folds them into the token-state
table in batches, and delivers one update per touched token to Redis and the socket.io push.

The bridge keys launchpad logs by token, so a token's logs and its state share one partition
and there is no repartition hop. A batch is whatever the stream has ready (at
most FOLD_BATCH_SIZE): one event when the load is light, so latency stays one event's worth.
The pure work is in `candles.batch`; this agent reads, delivers, writes, acks, and seeks back
when the table says the consumer skipped records. Table writes are kept in a `WriteBehind`
buffer and made every TABLE_FLUSH_MS, then the logs of those batches are acked.
"""

from __future__ import annotations

import logging
import time
import weakref

from faust.streams import _current_event  # the event a table read or write belongs to
from faust.types import TP, EventT, StreamT

from ..candles.batch import BatchFolder, Message, Outcome
from ..candles.cache import StateCache
from ..candles.flush import WriteBehind
from ..faust_guard import ack_processed, release
from ..worker import app, raw_logs, settings, token_state
from . import gaps, sink
from .batching import ready_batches
from .deadletter import send_dead_letter

log = logging.getLogger(__name__)
deep_reorgs: list[str] = []
cache = StateCache(settings.state_cache_size)
buffer = WriteBehind()
FLUSH_S = settings.table_flush_ms / 1000
FLUSH_MAX_KEYS = 5000  # bounds the buffer's memory; a flush is due sooner with more keys
STATS_EVERY_S = 30.0
stats = {"logs": 0, "batches": 0, "updates": 0, "writes": 0, "flushes": 0}
# Seconds spent per stage, and the longest flush: a flush stalls the stream, so it bounds latency.
spent = {"fold": 0.0, "deliver": 0.0, "flush": 0.0, "flush_max": 0.0}


@app.agent(raw_logs, name="candles")
async def candles(stream: StreamT[bytes]) -> None:
    # Manual acks, after Redis has the updates and the table writes are handed to the
    # producer: Faust acks the current event of a cancelled agent, which would commit a log
    # never folded. Faust flushes the producer before it commits offsets.
    unacked: list[EventT] = []
    # An event per partition since the last flush (held ones too: a batch whose events of a
    # partition were all held can still move that partition's position up to the log start).
    of_partition: dict[int, EventT] = {}
    flushed = time.monotonic()
    async for batch in ready_batches(stream, settings.fold_batch_size, idle_s=FLUSH_S or None):
        if batch:
            of_partition.update((e.message.partition, e) for e in batch)
            held = await fold_batch(batch)
            for i, event in enumerate(batch):
                if i in held:
                    release(app.consumer, event.message)
                else:
                    unacked.append(event)
        now = time.monotonic()
        # An empty batch means the stream is idle, or paused for a rebalance that waits for
        # these acks: flush now.
        if (unacked or len(buffer)) and (not batch or now - flushed >= FLUSH_S or len(buffer) >= FLUSH_MAX_KEYS):
            flush(unacked, of_partition)
            unacked = []
            of_partition = {}
            flushed = now


def _point_at(event: EventT) -> None:
    # RocksDB keeps one database per partition and Faust picks it, and the changelog
    # partition, from the current event: point it at an event of the key's partition.
    _current_event.set(weakref.ref(event))


def flush(events: list[EventT], of_partition: dict[int, EventT]) -> None:
    """Write what the buffer holds, then ack the logs that led to it."""
    started = time.perf_counter()
    writes = buffer.drain()
    for partition, key, value in writes:
        _point_at(of_partition[partition])
        if value is None:
            token_state.pop(key, None)
        else:
            token_state[key] = value
    for event in events:
        ack_processed(app.consumer, event.message)
    stats["flushes"] += 1
    stats["writes"] += len(writes)
    took = time.perf_counter() - started
    spent["flush"] += took
    spent["flush_max"] = max(spent["flush_max"], took)


async def fold_batch(batch: list[EventT]) -> set[int]:
    """Fold, deliver, buffer the writes; returns the indices of events held back behind a gap."""
    of_partition = {e.message.partition: e for e in batch}
    await gaps.learn_earliest([p for p in of_partition if p not in gaps.earliest])

    def read(partition: int, key: bytes) -> bytes | None:
        held, value = buffer.read(key)  # newer than the table until the next flush
        if held:
            return value
        _point_at(of_partition[partition])
        return token_state.get(key)  # type: ignore[no-any-return]

    folder = BatchFolder(read, settings.chain_id, settings.ohlcv_intervals, floor=gaps.earliest,
                         cache=cache if cache.max_tokens else None)
    try:
        started = time.perf_counter()
        out = folder.run([Message(e.message.partition, e.message.offset, e.key, e.value)  # type: ignore[arg-type]
                          for e in batch])
        folded = time.perf_counter()
        spent["fold"] += folded - started
        await _deliver(batch, out)
        spent["deliver"] += time.perf_counter() - folded
        stats["logs"] += len(batch)
        stats["batches"] += 1
        stats["updates"] += len(out.updates)
    except BaseException:
        # States were changed in place, and the buffer encodes them when it flushes: the table
        # has what counts, and the logs of the buffered batches were not acked.
        cache.clear()
        buffer.clear()
        raise
    cache.keep(folder.states, folder.pending)
    await gaps.after_batch(batch, folder.positions, out)
    return set(out.held)


async def _deliver(batch: list[EventT], out: Outcome) -> None:
    for reason in out.deep_reorgs:
        deep_reorgs.append(reason)
        log.critical("%s; run `python -m pads_stream replay` to rebuild", reason)
    for i, reason in out.dead:
        await send_dead_letter(batch[i], "candles", reason)
    # The table is written only once Redis has the updates: a state that survives an
    # interruption then implies its updates did, and a redelivered log needs nothing re-sent.
    await sink.deliver(out.updates)
    buffer.add(out.writes)


@app.on_partitions_revoked.connect  # type: ignore[arg-type]
async def _forget_states(sender: object, revoked: set[TP], **_: object) -> None:
    # A partition may come back after another worker changed its states.
    cache.clear()
    if len(buffer):  # cannot be: the rebalance waited for every ack, and acks follow flushes
        log.error("rebalance: %d table writes were not flushed; their logs will be folded again", len(buffer))
        buffer.clear()


@app.timer(STATS_EVERY_S)
async def log_stats() -> None:
    """What the agent did lately: batch sizes say whether per-batch costs or per-log costs rule."""
    if stats["batches"]:
        log.info("candles: %d logs in %d batches (%.1f per batch), %d updates delivered, %d table writes "
                 "in %d flushes in the last %.0f s", stats["logs"], stats["batches"],
                 stats["logs"] / stats["batches"], stats["updates"], stats["writes"], stats["flushes"],
                 STATS_EVERY_S)
        log.info("candles: %.0f ms folding, %.0f ms delivering to Redis and the push, %.0f ms flushing "
                 "(longest flush %.0f ms)", *(1000 * spent[k] for k in ("fold", "deliver", "flush", "flush_max")))
    for k in stats:
        stats[k] = 0
    for k in spent:
        spent[k] = 0.0
