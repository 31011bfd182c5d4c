"""Batches of whatever a stream has ready: under load they fill up (one Redis transaction or
one state write per token for many events), under light load a batch is a single event, so
no stage waits for a batch to fill and latency stays one event's worth."""

from __future__ import annotations

from collections.abc import AsyncIterator

from faust.types import EventT, StreamT


async def ready_batches(stream: StreamT[bytes], size: int) -> AsyncIterator[list[EventT]]:
    """Events are not acked: the caller acks each once its output is safe."""
    queue = stream.channel.queue  # type: ignore[attr-defined]
    batch: list[EventT] = []
    async for event in stream.noack().events():  # type: ignore[attr-defined]
        batch.append(event)
        if len(batch) >= size or queue.empty():
            yield batch
            batch = []
