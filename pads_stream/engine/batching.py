"""Batches of whatever a stream has ready: under load they fill up (one Redis transaction or
one state write per token for many events), under light load a batch is a single event, so
no stage waits for a batch to fill and latency stays one event's worth.

The events are taken from the stream's channel queue, which Faust's conductor fills, not
through Faust's per-event stream iterator: that yields to the event loop once per event, and
a batch built from it needed a task and a timed wait per event, which cost more than
folding the event. What the iterator does per event is done here: an event fetched under an
earlier consumer generation, or while flow control is paused for a rebalance, is released
(read again later, never committed), and the others are tracked as unacked, so a rebalance
waits for them.

A batch in hand is never held while waiting on the stream: a rebalance empties the channel
and then waits for every delivered event to be acked, so an agent waiting for the next event
with unacked ones in hand deadlocks the worker (seen with two workers joining).

Behind, though (`behind()`: the consumer lag is more than a batch), a batch that is not full
waits up to FILL_WAIT_S for the conductor to fill the channel, since the conductor only runs
while the agent awaits: per-token costs (one update, one Redis write, one state write per
token and batch) are then shared by more trades, and a worker catching up (a restart, a
replay, a burst) gets there sooner. The wait is bounded and ends with a rebalance's pause,
so the deadlock above cannot happen; a worker that is caught up never waits.

A batch also ends once it holds `max_keys` distinct keys (tokens): what a batch keeps alive
(states, outputs, the Redis call's arguments, buffered writes) grows with the tokens it
touches, not its logs. With few tokens a batch then fills to `size` and shares each token's
update among more trades; with 100,000 tokens it stays as small in memory as before.

And once it holds `max_cold` keys that `is_cold` says are not decoded in memory yet: each
is read and decoded, and its object graph lives until the batch is written. With 100,000
tokens, nearly all cold, batches of 1,000 of them took the worker's peak RSS to about 490 MB
and batches of 50 to under 300 (benchmarks/README.md). Hot tokens do not count, so a worker
with few tokens keeps its large batches.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

from faust.types import EventT, StreamT

from .guard import release

FILL_WAIT_S = 0.05
FILL_POLL_S = 0.002


async def ready_batches(stream: StreamT[bytes], size: int, idle_s: float | None = None,
                        behind: Callable[[], bool] | None = None,
                        max_keys: int | None = None, max_cold: int | None = None,
                        is_cold: Callable[[object], bool] | None = None) -> AsyncIterator[list[EventT]]:
    """Events are not acked: the caller acks each once its output is safe. With `idle_s`, an
    empty batch comes after that long without events, so a caller holding unacked events
    (waiting to flush) can ack them: the same deadlock as above, with a delay instead."""
    app = stream.app
    consumer = app.consumer
    flow = app.flow_control
    acking = app.topics.acking_topics
    queue = stream.channel.queue  # type: ignore[attr-defined]
    errors = queue._errors  # what the conductor throws into the channel

    keys: set[object] = set()
    keys_max = max_keys or size
    cold_max = max_cold if max_cold and is_cold is not None else size
    cold = 0

    def take(event: EventT, batch: list[EventT]) -> None:
        nonlocal cold
        message = event.message
        if not flow.is_active() or message.generation_id != app.consumer_generation_id:
            release(consumer, message)
            return
        if message.topic in acking and not message.tracked:
            message.tracked = True
            consumer.track_message(message)
        batch.append(event)
        key = message.key
        if key not in keys:
            keys.add(key)
            if is_cold is not None and is_cold(key):
                cold += 1

    def room(batch: list[EventT]) -> bool:
        return len(batch) < size and len(keys) < keys_max and cold < cold_max

    while True:
        batch: list[EventT] = []
        keys.clear()
        cold = 0
        try:
            if queue.empty():
                try:
                    # The queue's get gives its item back if cancelled: a timeout loses nothing.
                    take(await asyncio.wait_for(queue.get(), idle_s), batch)
                except TimeoutError:
                    yield batch
                    continue
            while room(batch) and not queue.empty():
                if errors:
                    raise errors.popleft()
                take(queue.get_nowait(), batch)
            if behind is not None and room(batch) and behind():
                until = time.monotonic() + FILL_WAIT_S
                # Polled: the channel's queue signals neither its size nor the conductor's progress.
                while (queue.qsize() < size - len(batch) and flow.is_active()  # noqa: ASYNC110
                       and time.monotonic() < until):
                    await asyncio.sleep(FILL_POLL_S)
                while room(batch) and not queue.empty():
                    if errors:
                        raise errors.popleft()
                    take(queue.get_nowait(), batch)
        except StopAsyncIteration:  # thrown into the channel when the worker stops
            if batch:
                yield batch
            return
        if batch:
            yield batch
