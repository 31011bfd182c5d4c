"""Dead letters: what a stage could not process, with the reason and the original bytes."""

from __future__ import annotations

import logging

import orjson
from faust.types import EventT

log = logging.getLogger(__name__)


async def send_dead_letter(event: EventT, stage: str, reason: str) -> None:
    from ..worker import dead_letters

    msg = event.message
    raw = event.value if isinstance(event.value, bytes) else bytes(str(event.value), "utf-8")
    log.warning("%s: dead-lettering %s[%d]@%d: %s", stage, msg.topic, msg.partition, msg.offset, reason)
    await dead_letters.send(key=msg.key, value=orjson.dumps({
        "stage": stage, "reason": reason, "topic": msg.topic, "partition": msg.partition,
        "offset": msg.offset, "key": (msg.key or b"").decode("utf-8", "replace"),
        "value": raw.decode("utf-8", "replace"),
    }))
