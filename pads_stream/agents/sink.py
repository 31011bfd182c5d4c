"""The sink stage, in the candle agent's process: a batch's updates go into Redis in one atomic
script call, then into the socket.io outbox.

There is no topic between the candle agent and the sink. The agent awaits `deliver` before
it writes its table and acks its logs, so a log is committed only once Redis has what it
changed, and a redelivered log that the table already holds needs nothing delivered again.
Kafka in between cost a produce, a consume and an encode/decode per token and batch, more
than the folding itself when most batches touch a token once.
"""

from __future__ import annotations

import logging
from typing import Any

from ..mirror.redis_mirror import RedisMirror
from ..push.client import Pusher
from ..worker import app, settings

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


async def deliver(updates: list[dict[str, Any]]) -> None:
    """Returns once Redis has the updates (retrying while it is down); the push is queued."""
    if not updates:
        return
    await mirror.write(updates)
    if pusher is not None:
        pusher.enqueue(updates)
