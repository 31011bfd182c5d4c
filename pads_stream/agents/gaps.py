"""Records the candle agent must read again, and how it gets them (agent side of gap recovery).

Faust skips records around a rebalance and can commit past them; the table knows each raw
partition's next offset to apply (`candles.batch`), so a batch that finds a gap releases the
records behind it and the agent seeks back. Faust's fetcher can overwrite such a seek, or
drop the re-read records behind ones fetched before it, so a 1 s timer checks: a gap stays
open until the table's position passes every released record, and a partition that has logs
left but receives none for a while is sought to its position (at the end of a backlog no
later record would reveal the loss, and a replay would stop short).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.types import TP, EventT

from ..candles.batch import Outcome, decode_position, position_key
from ..faust_fetch import seek_in_consumer_thread
from ..worker import app, raw_logs, settings, token_state

log = logging.getLogger(__name__)
RESEEK_AFTER_S = 1.0
STALL_AFTER_S = 5.0
earliest: dict[int, int] = {}  # log start offset per raw partition: where a fresh table begins
# Raw partition -> the offset below which records were released behind a gap: the gap stays
# open, and is sought again, until the partition's next offset to apply reaches it.
open_gaps: dict[int, int] = {}
next_offset: dict[int, int] = {}  # raw partition -> next offset to apply, as the table says
last_event: dict[int, float] = {}  # raw partition -> when an event of it last came
_last_seek: dict[int, tuple[int, float]] = {}
_offsets_client: AIOKafkaConsumer | None = None


async def after_batch(batch: list[EventT], positions: dict[int, dict[str, Any]], out: Outcome) -> None:
    """Note where each partition stands after a batch; open, close and seek gaps."""
    now = time.monotonic()
    for partition, pos in positions.items():
        next_offset[partition] = pos["next"]
        last_event[partition] = now
    for i in out.held:
        m = batch[i].message
        open_gaps[m.partition] = max(open_gaps.get(m.partition, 0), m.offset + 1)
    # Not closed by the first record after a seek: Faust can drop the re-read records behind
    # ones it fetched before the seek.
    for partition, until in list(open_gaps.items()):
        if next_offset.get(partition, -1) >= until:
            del open_gaps[partition]
    for partition, (expected, got) in out.gaps.items():
        await _seek_back(partition, expected, got)


async def learn_earliest(partitions: list[int]) -> None:
    # Through a client of our own: asking Faust's consumer thread can deadlock, as that
    # thread may be waiting for this agent to drain the stream buffer.
    global _offsets_client
    if not partitions:
        return
    if _offsets_client is None:
        client = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
        await client.start()
        _offsets_client = client
    tps = [TopicPartition(raw_logs.get_topic_name(), p) for p in partitions]
    for tp, offset in (await _offsets_client.beginning_offsets(tps)).items():
        earliest[tp.partition] = offset


async def _seek_back(partition: int, expected: int, got: int) -> None:
    await learn_earliest([partition])  # retention may have deleted what the table expects
    target = max(expected, earliest[partition])
    if target > expected:
        log.error("raw partition %d: offsets %d..%d were deleted by Kafka's retention before they were "
                  "applied; continuing from %d (run `python -m pads_stream check`)", partition, expected,
                  target - 1, target)
    last = _last_seek.get(partition)
    now = time.monotonic()
    if last is not None and last[0] == target and now - last[1] < RESEEK_AFTER_S:
        return  # the records fetched before that seek are still draining; the timer checks
    log.warning("raw partition %d: the consumer skipped offsets %d..%d; reading again from %d",
                partition, expected, got - 1, target)
    await _seek(partition, target)


async def _seek(partition: int, offset: int) -> None:
    _last_seek[partition] = (offset, time.monotonic())
    await seek_in_consumer_thread(app.consumer, TP(raw_logs.get_topic_name(), partition), offset)


@app.on_partitions_revoked.connect  # type: ignore[arg-type]
async def _forget_offsets(sender: object, revoked: set[TP], **_: object) -> None:
    # A partition may come back after another worker moved it on.
    for tp in revoked:
        if tp.topic == raw_logs.get_topic_name():
            for known in (open_gaps, next_offset, last_event):
                known.pop(tp.partition, None)


@app.on_before_shutdown.connect  # type: ignore[arg-type]
async def _close_offsets_client(sender: object, **_: object) -> None:
    global _offsets_client
    if _offsets_client is not None:
        client, _offsets_client = _offsets_client, None
        await client.stop()


@app.timer(RESEEK_AFTER_S)
async def reseek_open_gaps() -> None:
    """Seek again where released records have not been applied: Faust's fetcher can overwrite
    a seek with the read position of records it fetched just before it."""
    topic = raw_logs.get_topic_name()
    assigned = {tp.partition for tp in app.consumer.assignment() if tp.topic == topic}
    for partition, until in list(open_gaps.items()):
        if partition not in assigned:
            open_gaps.pop(partition, None)
        elif time.monotonic() - _last_seek.get(partition, (0, 0.0))[1] >= RESEEK_AFTER_S:
            target = max(next_offset[partition], earliest.get(partition, 0))
            log.warning("raw partition %d: offsets %d..%d were released and not applied yet; seeking to %d "
                        "again", partition, target, until - 1, target)
            await _seek(partition, target)
    await _seek_stalled(assigned)


async def _seek_stalled(assigned: set[int]) -> None:
    """Seek where logs remain but none has come for a while. Records Faust drops (fetched in
    an older generation, or behind its read position after a seek) are noticed when a later
    record arrives; at the end of a backlog none does, and a replay would stop short."""
    now = time.monotonic()
    for p in assigned:
        last_event.setdefault(p, now)  # a partition just assigned: its clock starts now
    quiet = [p for p in assigned if p not in open_gaps and now - last_event[p] >= STALL_AFTER_S
             and now - _last_seek.get(p, (0, 0.0))[1] >= STALL_AFTER_S]
    if not quiet or _offsets_client is None:
        return
    topic = raw_logs.get_topic_name()
    ends = await _offsets_client.end_offsets([TopicPartition(topic, p) for p in quiet])
    for tp, end in ends.items():
        p = tp.partition
        applied = next_offset.get(p)
        if applied is None:  # no event since it was assigned: the table says where it stands
            applied = decode_position(token_state.get(position_key(p)))["next"]
        target = max(applied, earliest.get(p, 0))
        if target < end:
            log.warning("raw partition %d: offsets %d..%d remain but none has come for %.0f s; seeking to %d",
                        p, target, end - 1, now - last_event[p], target)
            await _seek(p, target)
