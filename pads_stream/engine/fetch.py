"""Faust's fetching, made to keep up with a backlog (installed by pads_stream.worker).

Two things held a worker replaying history to about 6,000 logs/s with its CPU two-thirds
idle (`python -m benchmarks --tokens 10`, 2 cores):

- Faust asks the broker to hold a fetch for up to 1,500 ms while its partitions have nothing
  new, and aiokafka has one fetch in flight per broker. A partition that reached its end (one
  with few tokens) then held back the next fetch of every busy partition, for 1.5 s at a
  time. Here the wait is KAFKA_FETCH_MAX_WAIT_MS (20 ms by default).
- `Consumer._drain_messages` hands every message to the conductor through
  `Service.wait_first(callback(message), suspend_flow.wait())`, so that a rebalance can
  abandon a hand-off that blocks: four tasks, a wait and three cancellations per message,
  and a turn of the event loop, so the agent found one message in its queue at a time. Here
  the hand-off is awaited directly when it cannot block (flow control active, the producer
  buffer under its limit, every channel of the topic with room), and goes Faust's way
  otherwise. The loop is otherwise Faust's own, and replaces it only in the exact version it
  was copied from.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
from typing import Any

from faust.transport.consumer import CONSUMER_FETCHING, Consumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

log = logging.getLogger(__name__)
# sha256 of the source of faust-streaming 0.15.3's Consumer._drain_messages.
COPIED_FROM = "44a25003"
_original = Consumer._drain_messages
_original_create = AIOKafkaConsumerThread._create_worker_consumer


def _source_digest() -> str:
    return hashlib.sha256(inspect.getsource(_original).encode()).hexdigest()[:8]


def can_hand_over_now(app: Any, topic: str) -> bool:
    """True when the conductor's callback for a message of `topic` completes without waiting."""
    if not app.flow_control.is_active() or app.consumer.suspend_flow.is_set():
        return False
    buffer = app.producer.buffer
    if buffer.size > buffer.max_messages:
        return False
    return not any(chan.queue.full() for chan in app.topics._topic_name_index.get(topic, ()))


async def _drain_messages(self: Any, fetcher: Any) -> None:  # pragma: no cover - run by Faust's fetcher
    callback = self.callback
    getmany = self.getmany
    consumer_should_stop = self._stopped.is_set
    fetcher_should_stop = fetcher._stopped.is_set
    get_read_offset = self._read_offset.__getitem__
    set_read_offset = self._read_offset.__setitem__
    set_flag = self.diag.set_flag
    unset_flag = self.diag.unset_flag
    commit_every = self._commit_every
    acks_enabled_for = self.app.topics.acks_enabled_for
    app = self.app
    yield_every = 100
    num_since_yield = 0
    sleep = asyncio.sleep
    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            set_flag(CONSUMER_FETCHING)
            ait = getmany(timeout=1.0)
            await self.sleep(0)
            if not self.should_stop:
                async for tp, message in ait:
                    num_since_yield += 1
                    if num_since_yield > yield_every:
                        await sleep(0)
                        num_since_yield = 0
                    offset = message.offset
                    r_offset = get_read_offset(tp)
                    if r_offset is None or offset >= r_offset:
                        gap = offset - (r_offset or 0)
                        if gap > 1 and r_offset and acks_enabled_for(message.topic):
                            await self._add_gap(tp, r_offset + 1, offset)
                        if commit_every is not None and self._n_acked >= commit_every:
                            self._n_acked = 0
                            await self.commit()
                        if can_hand_over_now(app, message.topic):
                            await callback(message)
                        else:
                            await self.wait_first(callback(message), self.suspend_flow.wait())
                        set_read_offset(tp, offset)
                unset_flag(CONSUMER_FETCHING)
    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            log.info("Broker stopped consumer, shutting down...")
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            log.info("Consumer shutting down for user cancel.")
            return
        raise
    except Exception as exc:
        log.exception("Drain messages raised: %r", exc)
        raise
    finally:
        unset_flag(CONSUMER_FETCHING)


async def seek_in_consumer_thread(consumer: Any, tp: Any, offset: int) -> None:
    """Faust's `Consumer.seek` calls aiokafka's seek from this thread while aiokafka runs in
    Faust's consumer thread: a seek during a fetch crashed the fetcher (KeyError in aiokafka's
    `fetched_records`, seen with many seeks in a row). Seek in aiokafka's own thread, then set
    the read position as Faust's seek does."""
    thread = consumer._thread
    await thread.call_thread(thread.seek, tp, offset)
    consumer._read_offset[tp] = offset if offset else None


def with_fetch_wait(fetch_max_wait_ms: int) -> Any:
    def create(self: Any, transport: Any) -> Any:
        consumer = _original_create(self, transport)
        consumer._fetch_max_wait_ms = fetch_max_wait_ms  # read by its fetcher, made at start()
        return consumer
    return create


def install(fetch_max_wait_ms: int) -> bool:
    """Returns whether the fetch loop was replaced (the fetch wait always is)."""
    AIOKafkaConsumerThread._create_worker_consumer = with_fetch_wait(fetch_max_wait_ms)  # type: ignore[method-assign]
    if Consumer._drain_messages is _drain_messages:
        return True
    digest = _source_digest()
    if digest != COPIED_FROM:
        log.warning("faust Consumer._drain_messages changed (source %s, copied from %s): keeping Faust's "
                    "fetch loop, with four tasks per message", digest, COPIED_FROM)
        return False
    Consumer._drain_messages = _drain_messages  # type: ignore[method-assign]
    return True
