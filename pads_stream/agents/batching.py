"""Batches of whatever a stream has ready: under load they fill up (one Redis transaction or
one state write per token for many events), under light load a batch is a single event, so
no stage waits for a batch to fill and latency stays one event's worth.

A batch in hand is never held while waiting on the stream: a rebalance empties the stream's
buffer and then waits for every delivered event to be acked, so an agent waiting for the
next event with unacked ones in hand deadlocks the worker (seen with two workers joining).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from faust.types import EventT, StreamT

# How long a batch in hand may wait for an event the buffer said was there.
HOLD_S = 0.005


async def ready_batches(stream: StreamT[bytes], size: int, idle_s: float | None = None,
                        ) -> AsyncIterator[list[EventT]]:
    """Events are not acked: the caller acks each once its output is safe. With `idle_s`, an
    empty batch comes after that long without events, so a caller holding unacked events
    (waiting to flush) can ack them: the same deadlock as above, with a delay instead."""
    queue = stream.channel.queue  # type: ignore[attr-defined]
    events = stream.noack().events().__aiter__()  # type: ignore[attr-defined]
    batch: list[EventT] = []
    nxt: asyncio.Future[Any] | None = None
    try:
        while True:
            if nxt is None:
                nxt = asyncio.ensure_future(events.__anext__())
            if batch and not nxt.done():  # an event already in hand needs no timed wait
                done, _ = await asyncio.wait((nxt,), timeout=HOLD_S)
                if not done:
                    yield batch  # the next event stays pending in `nxt`
                    batch = []
                    continue
            if idle_s is not None and not batch and not nxt.done():
                done, _ = await asyncio.wait((nxt,), timeout=idle_s)
                if not done:
                    yield []
                    continue
            try:
                event = await nxt
            except StopAsyncIteration:
                break
            finally:
                if nxt.done():
                    nxt = None
            batch.append(event)
            if len(batch) >= size or queue.empty():
                yield batch
                batch = []
        if batch:
            yield batch
    finally:
        if nxt is not None:
            nxt.cancel()
