"""A guard around faust-streaming 0.15's offset tracking (applied by pads_stream.worker).

Around a rebalance Faust skips the events it fetched under the previous consumer generation,
or while flow control is paused, and *acks* them (streams.py, `value is skipped_value`). Their offsets can then be committed
although nothing processed them; if the partition moves before they are fetched again, those
records are lost (seen in tests/integration: a second worker joining and leaving lost
decoded trades). Here an ack for a message of an older generation releases the message but
records no offset, so Kafka redelivers it; every stage is idempotent, so that is harmless.
"""

from __future__ import annotations

import logging
from typing import Any

from faust.transport.consumer import Consumer
from faust.utils.functional import consecutive_numbers

log = logging.getLogger(__name__)
_original_ack = Consumer.ack


def release(consumer: Any, message: Any) -> None:
    """Done with a message without making its offset committable: it will be read again."""
    if not message.acked:
        message.acked = True
        consumer._unacked_messages.discard(message)


def ack_processed(consumer: Any, message: Any) -> None:
    """Ack a message whose output is safe: its offset is committable even if a rebalance
    began meanwhile (Faust commits only partitions still assigned). Through the generation
    check it would be released, and a partition that stays here would never commit past it."""
    _original_ack(consumer, message)


def _generation_checked_ack(self: Any, message: Any) -> bool:
    current = self.app.consumer_generation_id
    stale = message.generation_id != current or not self.app.flow_control.is_active()
    if stale and not message.acked:
        release(self, message)
        log.debug("not committing %s[%d]@%d fetched in generation %s (now %s): it will be redelivered",
                  message.topic, message.partition, message.offset, message.generation_id, current)
        return False
    return bool(_original_ack(self, message))


def _new_offset(self: Any, tp: Any) -> int | None:
    """Faust's `Consumer._new_offset` (the offset to commit: the end of the first run of
    consecutive acked offsets) on a deduplicated list. Faust merges its gap ranges into the
    acked list without removing offsets already there, and keeps acks below the committed
    offset of records read again after a seek back: a duplicate then splits the run, and the
    partition's commits stop there for good (seen with two workers and a backlog)."""
    acked = self._acked[tp]
    if not acked:
        return None
    gaps = self._gap[tp]
    if gaps:
        top = max(acked)
        ranges = sorted(gaps.overlap(0, top), key=lambda i: i.begin)
        if ranges:
            filled = [o for r in ranges for o in range(r.begin, r.end)]
            acked.extend(filled)
            gaps.chop(0, max(filled[-1], top + 1))
    committed = self._committed_offset[tp]
    acked[:] = sorted({o for o in acked if committed is None or o >= committed})
    if not acked or (committed and acked[0] - committed > 1):  # Faust's own tolerance of one
        return None
    run = next(consecutive_numbers(acked))
    del acked[:len(run)]
    self._acked_index[tp].difference_update(run)
    return int(run[-1]) + 1


def install() -> None:
    if Consumer.ack is not _generation_checked_ack:
        Consumer.ack = _generation_checked_ack  # type: ignore[method-assign]
        Consumer._new_offset = _new_offset  # type: ignore[method-assign]
