"""ready_batches: what the channel holds, in batches, with Faust's per-event bookkeeping.

Faust's app, consumer and events are stood in for by plain objects; the queue is mode's own
ThrowableQueue, the one Faust's conductor fills (tests/integration run the real thing)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from mode.utils.queues import FlowControlEvent, ThrowableQueue

from pads_stream.engine.batching import ready_batches

TOPIC = "logs"


@dataclass(eq=False)  # hashable by identity, as Faust's messages are
class Msg:
    offset: int
    generation_id: int
    topic: str = TOPIC
    tracked: bool = False
    acked: bool = False
    key: bytes | None = None


class World:
    def __init__(self) -> None:
        self.flow = FlowControlEvent()
        self.flow.resume()
        self.queue: ThrowableQueue[Any] = ThrowableQueue(maxsize=100, flow_control=self.flow)
        self.tracked: list[int] = []
        self.consumer = SimpleNamespace(_unacked_messages=set(), track_message=self._track)
        self.app = SimpleNamespace(consumer=self.consumer, flow_control=self.flow, consumer_generation_id=2,
                                   topics=SimpleNamespace(acking_topics={TOPIC}))
        self.stream = SimpleNamespace(app=self.app, channel=SimpleNamespace(queue=self.queue))

    def _track(self, message: Any) -> None:
        self.consumer._unacked_messages.add(message)
        self.tracked.append(message.offset)

    def put(self, *offsets: int, generation: int = 2) -> None:
        for o in offsets:
            self.queue.put_nowait(SimpleNamespace(message=Msg(o, generation)))


def offsets(batch: list[Any]) -> list[int]:
    return [e.message.offset for e in batch]


def test_takes_what_is_ready_up_to_the_batch_size_and_tracks_it() -> None:
    asyncio.run(_takes_what_is_ready_up_to_the_batch_size_and_tracks_it())


async def _takes_what_is_ready_up_to_the_batch_size_and_tracks_it() -> None:
    w = World()
    w.put(*range(7))
    it = ready_batches(w.stream, 3)  # type: ignore[arg-type]
    assert [offsets(await it.__anext__()) for _ in range(3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert w.tracked == list(range(7))


def test_an_event_of_an_earlier_generation_is_released_not_yielded() -> None:
    asyncio.run(_an_event_of_an_earlier_generation_is_released_not_yielded())


async def _an_event_of_an_earlier_generation_is_released_not_yielded() -> None:
    w = World()
    w.put(0, 1, generation=1)
    w.put(2)
    batch = await ready_batches(w.stream, 10).__anext__()  # type: ignore[arg-type]
    assert offsets(batch) == [2] and w.tracked == [2]
    assert not w.consumer._unacked_messages - {batch[0].message}


def test_events_while_flow_is_paused_are_released() -> None:
    asyncio.run(_events_while_flow_is_paused_are_released())


async def _events_while_flow_is_paused_are_released() -> None:
    w = World()
    w.put(0)
    w.flow.suspend()
    it = ready_batches(w.stream, 10, idle_s=0.01)  # type: ignore[arg-type]
    assert await it.__anext__() == []
    assert w.tracked == [] and w.queue.empty()


def test_waits_for_the_next_event_and_yields_an_empty_batch_when_idle() -> None:
    asyncio.run(_waits_for_the_next_event_and_yields_an_empty_batch_when_idle())


async def _waits_for_the_next_event_and_yields_an_empty_batch_when_idle() -> None:
    w = World()
    it = ready_batches(w.stream, 10, idle_s=0.02)  # type: ignore[arg-type]
    assert await it.__anext__() == []
    asyncio.get_running_loop().call_later(0.005, w.put, 5)
    assert offsets(await it.__anext__()) == [5]


def test_a_stop_thrown_into_the_channel_ends_the_batches() -> None:
    asyncio.run(_a_stop_thrown_into_the_channel_ends_the_batches())


async def _a_stop_thrown_into_the_channel_ends_the_batches() -> None:
    w = World()
    it = ready_batches(w.stream, 10)  # type: ignore[arg-type]
    nxt = asyncio.ensure_future(it.__anext__())
    await asyncio.sleep(0.01)
    await w.queue.throw(StopAsyncIteration())
    with pytest.raises(StopAsyncIteration):
        await nxt


def test_an_error_thrown_into_the_channel_is_raised() -> None:
    asyncio.run(_an_error_thrown_into_the_channel_is_raised())


async def _an_error_thrown_into_the_channel_is_raised() -> None:
    w = World()
    w.put(0, 1)
    await w.queue.throw(RuntimeError("decode failed"))
    with pytest.raises(RuntimeError, match="decode failed"):
        await ready_batches(w.stream, 10).__anext__()  # type: ignore[arg-type]


def test_behind_a_short_batch_waits_for_the_conductor_to_fill_it() -> None:
    asyncio.run(_behind_a_short_batch_waits_for_the_conductor_to_fill_it())


async def _behind_a_short_batch_waits_for_the_conductor_to_fill_it() -> None:
    w = World()
    w.put(0, 1)

    async def conductor() -> None:  # fills the channel while the agent waits
        for o in range(2, 10):
            await asyncio.sleep(0.001)
            w.put(o)

    filling = asyncio.create_task(conductor())
    batches = ready_batches(w.stream, 10, behind=lambda: True)  # type: ignore[arg-type]
    assert offsets(await anext(batches)) == list(range(10))
    await filling


def test_a_batch_ends_at_its_distinct_key_limit() -> None:
    asyncio.run(_a_batch_ends_at_its_distinct_key_limit())


async def _a_batch_ends_at_its_distinct_key_limit() -> None:
    w = World()
    w.put(*range(10))
    for e, key in zip(list(w.queue._queue), [b"a", b"a", b"b", b"a", b"c", b"c", b"d", b"a", b"e", b"e"], strict=True):
        e.message.key = key
    it = ready_batches(w.stream, 100, max_keys=3)  # type: ignore[arg-type]
    assert offsets(await anext(it)) == [0, 1, 2, 3, 4]  # a, b and c: the third key ends it
    assert offsets(await anext(it)) == [5, 6, 7]  # c, d, a
    assert offsets(await anext(it)) == [8, 9]  # what is left


def test_a_batch_ends_at_its_cold_key_limit_and_hot_keys_do_not_count() -> None:
    asyncio.run(_a_batch_ends_at_its_cold_key_limit_and_hot_keys_do_not_count())


async def _a_batch_ends_at_its_cold_key_limit_and_hot_keys_do_not_count() -> None:
    w = World()
    w.put(*range(10))
    keys = [b"h", b"x", b"h", b"x", b"i", b"y", b"j", b"z", b"h", b"w"]
    for e, key in zip(list(w.queue._queue), keys, strict=True):
        e.message.key = key
    hot = {b"h", b"i", b"j"}
    asked: list[object] = []

    def is_cold(key: object) -> bool:
        asked.append(key)
        return key not in hot

    it = ready_batches(w.stream, 100, max_keys=100, max_cold=2, is_cold=is_cold)  # type: ignore[arg-type]
    assert offsets(await anext(it)) == [0, 1, 2, 3, 4, 5]  # x and y are cold: y ends it
    assert offsets(await anext(it)) == [6, 7, 8, 9]  # z and w
    assert asked == [b"h", b"x", b"i", b"y", b"j", b"z", b"h", b"w"]  # once per key and batch


def test_caught_up_a_batch_never_waits_and_behind_the_wait_is_bounded() -> None:
    asyncio.run(_caught_up_a_batch_never_waits_and_behind_the_wait_is_bounded())


async def _caught_up_a_batch_never_waits_and_behind_the_wait_is_bounded() -> None:
    w = World()
    w.put(0, 1)
    assert offsets(await anext(ready_batches(w.stream, 10, behind=lambda: False))) == [0, 1]  # type: ignore[arg-type]
    w.put(2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    # Behind, nothing more comes: the wait is bounded.
    assert offsets(await anext(ready_batches(w.stream, 10, behind=lambda: True))) == [2]  # type: ignore[arg-type]
    assert loop.time() - started < 1.0
