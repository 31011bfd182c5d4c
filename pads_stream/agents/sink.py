"""Sink agent: writes what the stream has ready (at most SINK_BATCH_SIZE updates) in one
Redis transaction, then hands it to the socket.io pusher. Offsets are acked only after Redis
has the batch (manual acks: Stream.take acks its buffer even when the agent is cancelled)."""

from __future__ import annotations

import logging

from faust.types import StreamT

from ..faust_guard import ack_processed
from ..mirror.redis_mirror import RedisMirror
from ..mirror.updates import decode_update
from ..push.client import Pusher
from ..worker import app, settings, updates
from .batching import ready_batches

log = logging.getLogger(__name__)

mirror = RedisMirror(settings.redis_url, settings.redis_namespace)
pusher: Pusher | None = None
if settings.backend_socket_url:
    pusher = Pusher(settings.backend_socket_url, settings.backend_socket_token, settings.backend_namespace,
                    settings.processing_interval_ms / 1000, settings.push_buffer_max)


@app.task
async def start_pusher() -> None:
    if pusher is not None:
        pusher.start()
    else:
        log.warning("BACKEND_SOCKET_URL not set: candles go to Redis only, nothing is pushed")


@app.agent(updates, name="sink")
async def sink(stream: StreamT[bytes]) -> None:
    async for batch in ready_batches(stream, settings.sink_batch_size):
        batch_updates = []
        for event in batch:
            try:
                batch_updates.append(decode_update(event.value))
            except ValueError as exc:
                log.error("sink: skipping malformed update (%r): %r", exc, event.value[:200])
        await mirror.write(batch_updates)
        if pusher is not None:
            pusher.enqueue(batch_updates)
        for event in batch:
            ack_processed(app.consumer, event.message)
