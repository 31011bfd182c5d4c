"""The push never hands engine.io more than a few packets ahead of its writer."""

from __future__ import annotations

import asyncio
from typing import Any

from pads_stream.push.client import MAX_QUEUED_PACKETS, Pusher


class SlowSocket:
    """Stands in for python-socketio: an emit queues a packet, a writer takes one every 2 ms."""

    def __init__(self) -> None:
        self.eio = self
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.sent: list[Any] = []
        self.most_queued = 0

    async def emit(self, event: str, data: Any, namespace: str) -> None:
        self.queue.put_nowait((event, data))
        self.most_queued = max(self.most_queued, self.queue.qsize())

    async def write(self) -> None:
        while True:
            self.sent.append(await self.queue.get())
            await asyncio.sleep(0.002)
            self.queue.task_done()


def test_a_slow_writer_holds_the_push_back_and_gets_everything() -> None:
    async def run() -> SlowSocket:
        pusher = Pusher("http://127.0.0.1:1", "t", "/listener", 0.1, 100_000)
        sock = SlowSocket()
        pusher.sio = sock  # type: ignore[assignment]
        pusher.connected = True
        for i in range(30):
            pusher.outbox.add_update({"chain_id": 1, "token": f"0x{i:040x}", "trades": [],
                                      "candles": {"1m": [{"t": 60 * k} for k in range(100)]}, "deleted": {}})
        writer = asyncio.ensure_future(sock.write())
        await pusher._flush()
        await sock.queue.join()
        writer.cancel()
        return sock

    sock = asyncio.run(run())
    assert sock.most_queued <= MAX_QUEUED_PACKETS
    assert sum(len(data) for _, data in sock.sent) == 3000  # 6 chunks of 500, none lost


def test_a_lost_connection_does_not_hold_the_push() -> None:
    async def run() -> None:
        pusher = Pusher("http://127.0.0.1:1", "t", "/listener", 0.1, 100_000)
        sock = SlowSocket()
        pusher.sio = sock  # type: ignore[assignment]
        for _ in range(MAX_QUEUED_PACKETS):
            sock.queue.put_nowait(None)  # a writer that never takes them
        pusher.connected = False
        await asyncio.wait_for(pusher._room_to_send(), 1)
    asyncio.run(run())
