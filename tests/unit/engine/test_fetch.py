"""The fetch loop replaces Faust's only over the version it was copied from, hands a message
over directly only when the hand-off cannot block, and the broker's fetch wait is ours."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport.consumer import Consumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from mode.threads import QueueServiceThread

from pads_stream.engine import fetch as faust_fetch


def test_the_installed_faust_is_the_version_the_loop_was_copied_from() -> None:
    # Fails after a Faust upgrade: compare its _drain_messages with ours, then update COPIED_FROM.
    assert faust_fetch._source_digest() == faust_fetch.COPIED_FROM


def test_a_changed_faust_keeps_its_own_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Consumer, "_drain_messages", faust_fetch._original)
    monkeypatch.setattr(AIOKafkaConsumerThread, "_create_worker_consumer", faust_fetch._original_create)
    monkeypatch.setattr(faust_fetch, "_source_digest", lambda: "00000000")
    assert faust_fetch.install(20) is False
    assert Consumer._drain_messages is faust_fetch._original
    monkeypatch.setattr(faust_fetch, "_source_digest", lambda: faust_fetch.COPIED_FROM)
    assert faust_fetch.install(20) is True
    assert Consumer._drain_messages is faust_fetch._drain_messages


def test_the_consumer_faust_creates_gets_our_fetch_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    made = SimpleNamespace(_fetch_max_wait_ms=1500)
    monkeypatch.setattr(faust_fetch, "_original_create", lambda self, transport: made)
    assert faust_fetch.with_fetch_wait(20)(object(), object()) is made
    assert made._fetch_max_wait_ms == 20


class Queue:
    def __init__(self, full: bool) -> None:
        self._full = full

    def full(self) -> bool:
        return self._full


def app(active: bool = True, suspended: bool = False, buffered: int = 0, full: tuple[bool, ...] = (False,)) -> Any:
    return SimpleNamespace(
        flow_control=SimpleNamespace(is_active=lambda: active),
        consumer=SimpleNamespace(suspend_flow=SimpleNamespace(is_set=lambda: suspended)),
        producer=SimpleNamespace(buffer=SimpleNamespace(size=buffered, max_messages=100)),
        topics=SimpleNamespace(_topic_name_index={"logs": [SimpleNamespace(queue=Queue(f)) for f in full]}),
    )


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({}, True),
    ({"active": False}, False),  # flow control paused: the put would wait for a resume
    ({"suspended": True}, False),
    ({"buffered": 100}, True),
    ({"buffered": 101}, False),  # the conductor would wait for the producer buffer to ebb
    ({"full": (False, True)}, False),  # one channel of the topic is full
    ({"full": ()}, True),  # no channel: nothing to put
])
def test_a_hand_off_goes_direct_only_when_it_cannot_block(kwargs: dict[str, Any], expected: bool) -> None:
    assert faust_fetch.can_hand_over_now(app(**kwargs), "logs") is expected


class SeekingThread(QueueServiceThread):
    """A consumer thread as Faust's: methods sent through `call_thread` run on its own loop."""

    def __init__(self) -> None:
        super().__init__()
        self.seeks: list[tuple[Any, int, int]] = []

    def seek(self, tp: Any, offset: int) -> None:
        self.seeks.append((tp, offset, threading.get_ident()))


def test_a_seek_runs_in_the_consumer_thread_and_moves_the_read_position() -> None:
    async def run() -> None:
        thread = SeekingThread()
        await thread.start()
        try:
            consumer = SimpleNamespace(_thread=thread, _read_offset={})
            await faust_fetch.seek_in_consumer_thread(consumer, "tp", 42)
            await faust_fetch.seek_in_consumer_thread(consumer, "tp0", 0)
        finally:
            await thread.stop()
        assert [(tp, o) for tp, o, _ in thread.seeks] == [("tp", 42), ("tp0", 0)]
        assert all(ident != threading.get_ident() for _, _, ident in thread.seeks)
        assert consumer._read_offset == {"tp": 42, "tp0": None}

    asyncio.run(run())
