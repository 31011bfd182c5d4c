"""Dead letters: what a stage could not process, with the reason and the original bytes."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import orjson

from ..candles.batch import Message

log = logging.getLogger(__name__)


DEAD_LETTER_VALUE_MAX = 256 << 10  # of the original, as text; the rest stays in the raw topic


class DeadLetters:
    """`send(key, value)` produces to DEAD_LETTER_TOPIC; `topic` is where the messages came from."""

    def __init__(self, send: Callable[[bytes | None, bytes], Awaitable[object]], topic: str) -> None:
        self.send, self.topic = send, topic

    async def __call__(self, msg: Message, stage: str, reason: str) -> None:
        value: object = msg.value
        raw = value if isinstance(value, bytes) else b""  # a tombstone has none
        log.warning("%s: dead-lettering %s[%d]@%d (%d bytes): %s", stage, self.topic, msg.partition, msg.offset,
                    len(raw), reason)
        letter = {"stage": stage, "reason": reason, "topic": self.topic, "partition": msg.partition,
                  "offset": msg.offset, "key": (msg.key or b"").decode("utf-8", "replace"),
                  "value": raw[:DEAD_LETTER_VALUE_MAX].decode("utf-8", "replace"), "value_bytes": len(raw)}
        if len(raw) > DEAD_LETTER_VALUE_MAX:
            # The raw topic keeps every record: the letter says where the whole one is.
            letter["truncated"] = True
        await self.send(msg.key, orjson.dumps(letter))
