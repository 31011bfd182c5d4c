"""The candle agent, as an object with no Faust in it: it folds batches of raw logs into the
token-state table and hands each batch's outputs to the sinks, in an order that makes a
crash lose nothing.

    batch:  fold (pure, `candles.batch`) -> table writes into the write-behind buffer ->
            [the previous batch's delivery done] -> delivery, started: dead letters ->
            sinks.deliver (durable ones awaited) -> gaps.after_batch
    flush:  every TABLE_FLUSH_MS (or when the stream is idle, or the buffer is big): the
            delivery in flight done, then the buffer's writes into the table, then the acks
            of every log they cover

So a log is acked only after Redis has what it changed and the table write that records it
was handed to the producer (Faust flushes the producer before it commits offsets), and a
state that survives an interruption implies its outputs did. A log behind a gap (the
consumer skipped records) is released, never acked: it will be read again.

Deliveries are pipelined: while Redis runs one batch's script (on another core), the next
batch is folded. They still reach the sinks one at a time and in order, and the buffer's
writes reach the table only after every delivery before them.

The engine (`pads_stream.engine`) drives it: it turns Faust's events into `Message`s with an
opaque handle each, and implements the seams below over Faust, the table and Kafka.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Protocol

from ..alerts.rules import RULE_KEY
from ..candles.batch import BatchFolder, Message, Outcome
from ..candles.cache import StateCache
from ..candles.events import EventParams
from ..candles.flush import WriteBehind
from ..candles.market import MarketParams
from ..chain.rawlog import MARKER_KEY
from ..decode.events import TradeEvent
from ..sinks import Sinks
from .metrics import WorkerMetrics, reason_kind
from .stats import AgentStats

log = logging.getLogger(__name__)
CONTROL_KEYS = frozenset((MARKER_KEY, RULE_KEY))
FLUSH_MAX_KEYS = 5000  # bounds the buffer's memory; a flush is due sooner with more keys


class Acks(Protocol):
    def ack(self, handle: Any) -> None:
        """The log's output is safe: its offset may be committed."""

    def release(self, handle: Any) -> None:
        """Done with the log without committing it: it will be read again."""


class Table(Protocol):
    def get(self, partition: int, key: bytes) -> bytes | None: ...

    def put(self, partition: int, key: bytes, value: bytes | None) -> None:
        """None deletes the key."""


class Gaps(Protocol):
    earliest: dict[int, int]

    async def learn_earliest(self, partitions: list[int]) -> None: ...

    async def after_batch(self, messages: Sequence[Message], positions: dict[int, dict[str, Any]],
                          out: Outcome) -> None: ...


DeadLetter = Callable[[Message, str, str], Awaitable[None]]
Batches = AsyncIterator[tuple[list[Message], list[Any]]]


class CandleAgent:
    def __init__(self, *, chain_id: int, intervals: tuple[int, ...], table: Table, acks: Acks, gaps: Gaps,
                 sinks: Sinks, dead_letter: DeadLetter, cache_size: int, flush_s: float,
                 params: MarketParams | None = None, retention: dict[int, int] | None = None,
                 events: EventParams | None = None,
                 metrics: WorkerMetrics | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.chain_id, self.intervals, self.params, self.retention = chain_id, intervals, params, retention
        self.events = events
        self.table, self.acks, self.gaps, self.sinks = table, acks, gaps, sinks
        self.dead_letter = dead_letter
        self.cache = StateCache(cache_size)
        self.buffer = WriteBehind()
        self.flush_s = flush_s
        self.clock = clock
        self.stats = AgentStats()
        self.metrics = metrics
        self.deep_reorgs: list[str] = []
        self.lag: dict[int, int] | None = None  # raw partition -> messages not applied yet; None: not measured
        self.lag_error: str | None = None  # why the last measurement failed (Kafka unreachable)
        self.chain_time = 0  # block timestamp of the newest trade applied
        # Each partition's next offset as the table had it before this process applied any of
        # it: what was applied before the start (the Redis self-repair asks).
        self.first_next: dict[int, int] = {}
        self._delivery: asyncio.Future[None] | None = None  # the batch being delivered

    def on_lag(self, lag: dict[int, int]) -> None:
        if self.metrics is not None and self.lag is not None:
            for gone in set(self.lag) - set(lag):
                self.metrics.lag.remove(str(gone))
        self.lag, self.lag_error = lag, None
        if self.metrics is not None:
            for p, n in lag.items():
                self.metrics.lag.labels(partition=str(p)).set(n)

    def on_lag_unknown(self, reason: str) -> None:
        """The lag could not be measured: /ready says so (the last lag measured is kept)."""
        self.lag_error = reason

    def cold(self, key: object) -> bool:
        """Whether a batch taking `key` must decode its state (head markers and rule records are not states)."""
        return key not in self.cache.states and key not in CONTROL_KEYS

    def behind(self, batch_size: int) -> bool:
        """Whether the last lag measured exceeds a batch: batches may then wait to fill."""
        return self.lag is not None and sum(self.lag.values()) > batch_size

    async def run(self, batches: Batches) -> None:
        """Consume `batches` (an empty one means the stream is idle, or paused for a rebalance
        that waits for these acks: flush then) until the stream ends."""
        unacked: list[Any] = []
        flushed = self.clock()
        try:
            async for messages, handles in batches:
                if messages:
                    held = await self.fold(messages)
                    for i, handle in enumerate(handles):
                        if i in held:
                            self.acks.release(handle)
                        else:
                            unacked.append(handle)
                now = self.clock()
                if (unacked or len(self.buffer)) and (not messages or now - flushed >= self.flush_s
                                                      or len(self.buffer) >= FLUSH_MAX_KEYS):
                    await self.delivered()
                    self.flush(unacked)
                    unacked = []
                    flushed = now
        finally:
            if self._delivery is not None and not self._delivery.done():
                self._delivery.cancel()  # the stream ended or failed: its logs were not acked

    async def fold(self, messages: list[Message]) -> set[int]:
        """Fold, buffer the writes and start delivering (after the delivery before it); returns
        the indices of messages held back behind a gap."""
        await self.gaps.learn_earliest(sorted({m.partition for m in messages} - set(self.gaps.earliest)))
        buffer = self.buffer

        def read(partition: int, key: bytes) -> bytes | None:
            held, value = buffer.read(key)  # newer than the table until the next flush
            return value if held else self.table.get(partition, key)

        folder = BatchFolder(read, self.chain_id, self.intervals, floor=self.gaps.earliest,
                             cache=self.cache if self.cache.max_tokens else None, params=self.params,
                             retention=self.retention, events=self.events)
        try:
            started = time.perf_counter()
            out = folder.run(messages)
            self.stats.spent["fold"] += time.perf_counter() - started
        except BaseException:
            # States were changed in place, and the buffer encodes them when it flushes: the table
            # has what counts, and the logs of the buffered batches were not acked.
            self._forget()
            raise
        await self.delivered()
        self.cache.keep(folder.states, folder.pending, folder.windows, folder.rules)
        # The next batch reads these; the table gets them only at a flush, after the delivery.
        buffer.add(out.writes)
        for p, pos in folder.positions_read.items():
            self.first_next.setdefault(p, int(pos["next"]))
        self._delivery = asyncio.ensure_future(self._deliver_batch(messages, folder.positions, out,
                                                                   time.perf_counter() - started))
        await asyncio.sleep(0)  # let it send its Redis call before the next batch is folded
        return set(out.held)

    async def delivered(self) -> None:
        """Wait for the delivery in flight; if it failed, forget what was folded since and raise."""
        delivery, self._delivery = self._delivery, None
        if delivery is None:
            return
        try:
            await delivery
        except BaseException:
            self._forget()
            raise

    def _forget(self) -> None:
        self.cache.clear()
        self.buffer.clear()

    async def _deliver_batch(self, messages: list[Message], positions: dict[int, dict[str, Any]], out: Outcome,
                             fold_s: float) -> None:
        started = time.perf_counter()
        await self._deliver(messages, out)
        deliver_s = time.perf_counter() - started
        self.stats.spent["deliver"] += deliver_s
        self.stats.add(logs=len(messages), batches=1, updates=len(out.updates))
        if self.metrics is not None:
            self._observe(messages, out, fold_s, deliver_s)
        await self.gaps.after_batch(messages, positions, out)

    async def _deliver(self, messages: list[Message], out: Outcome) -> None:
        for reason in out.deep_reorgs:
            log.critical("%s; run `python -m pads_stream replay` to rebuild", reason)
        for reason in out.deep_known:
            if reason not in self.deep_reorgs:
                if reason not in out.deep_reorgs:
                    log.error("a deep reorg recorded before this start still stands (until a replay): %s", reason)
                self.deep_reorgs.append(reason)
        for i, reason in out.dead:
            await self.dead_letter(messages[i], "candles", reason)
        # The table is written only once the durable sinks have the outputs (a flush waits for
        # this): a state that survives an interruption then implies its outputs did, and a
        # redelivered log needs nothing re-sent.
        await self.sinks.deliver(out.updates)

    def _observe(self, messages: list[Message], out: Outcome, fold_s: float, deliver_s: float) -> None:
        m = self.metrics
        assert m is not None
        m.logs.inc(len(messages))
        m.batch.observe(len(messages))
        m.stage.labels("fold").observe(fold_s)
        m.stage.labels("deliver").observe(deliver_s)
        m.updates.inc(len(out.updates))
        for _, reason in out.dead:
            m.dead.labels(reason_kind(reason)).inc()
        if out.deep_reorgs:
            m.deep_reorgs.inc(len(out.deep_reorgs))
        if out.held:
            m.released.inc(len(out.held))
        now = time.time()
        oldest = min((x.timestamp for x in messages if x.timestamp), default=0.0)
        if oldest:
            m.produce_to_redis.observe(max(0.0, now - oldest))
        newest = max((u.trades[-1].ref.block_timestamp for u in out.updates
                      if u.trades and isinstance(u.trades[-1], TradeEvent)), default=0)
        if newest:
            m.block_to_redis.observe(max(0.0, now - newest))
            if newest > self.chain_time:
                self.chain_time = newest
                m.chain_time.set(newest)

    def flush(self, handles: list[Any]) -> None:
        """Write what the buffer holds, then ack the logs that led to it."""
        started = time.perf_counter()
        writes = self.buffer.drain()
        for partition, key, value in writes:
            self.table.put(partition, key, value)
        for handle in handles:
            self.acks.ack(handle)
        took = time.perf_counter() - started
        self.stats.add(flushes=1, writes=len(writes))
        self.stats.spent["flush"] += took
        self.stats.spent["flush_max"] = max(self.stats.spent["flush_max"], took)
        if self.metrics is not None:
            self.metrics.stage.labels("flush").observe(took)
            self.metrics.table_writes.inc(len(writes))

    def forget_bases(self) -> None:
        """Redis lost what the cached states say it holds: their next markets go whole."""
        for state in self.cache.states.values():
            state.shown = None

    def on_revoked(self) -> None:
        # A partition may come back after another worker changed its states.
        self.cache.clear()
        if len(self.buffer):  # cannot be: the rebalance waited for every ack, and acks follow flushes
            log.error("rebalance: %d table writes were not flushed; their logs will be folded again", len(self.buffer))
            self.buffer.clear()
