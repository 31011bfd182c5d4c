"""Sinks: the fan-out order (durable ones awaited in turn, then the best-effort ones), the
merged health, and the worker health built on it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from pads_stream.agents.health import worker_health
from pads_stream.candles.market import Market
from pads_stream.candles.output import TokenOutput
from pads_stream.push.client import Pusher
from pads_stream.sinks import SinkHealth, Sinks


def output(token: str) -> TokenOutput:
    return TokenOutput(1, token, [], [], [], False, Market.from_wire({}))


class Recorder:
    def __init__(self, name: str, log: list[str], health: SinkHealth | None = None, delay: float = 0.0) -> None:
        self.name, self.log, self._health, self.delay = name, log, health or SinkHealth(), delay

    async def start(self) -> None:
        self.log.append(f"start {self.name}")

    async def stop(self) -> None:
        self.log.append(f"stop {self.name}")

    async def write(self, outputs: Sequence[TokenOutput]) -> None:
        await asyncio.sleep(self.delay)  # a slow durable sink still finishes before the next one starts
        self.log.append(f"{self.name} {[o.token for o in outputs]}")

    def add(self, outputs: Sequence[TokenOutput]) -> None:
        self.log.append(f"{self.name} {[o.token for o in outputs]}")

    async def health(self) -> SinkHealth:
        return self._health


def test_durable_sinks_in_turn_then_best_effort() -> None:
    log: list[str] = []
    sinks = Sinks([Recorder("redis", log, delay=0.01), Recorder("events", log)], [Recorder("push", log)])
    asyncio.run(sinks.deliver([output("a"), output("b")]))
    assert log == ["redis ['a', 'b']", "events ['a', 'b']", "push ['a', 'b']"]


def test_an_empty_batch_reaches_no_sink() -> None:
    log: list[str] = []
    asyncio.run(Sinks([Recorder("redis", log)], [Recorder("push", log)]).deliver([]))
    assert log == []


def test_a_failing_durable_sink_stops_the_delivery() -> None:
    log: list[str] = []

    class Failing(Recorder):
        async def write(self, outputs: Sequence[TokenOutput]) -> None:
            raise OSError("disk full")

    sinks = Sinks([Failing("redis", log), Recorder("events", log)], [Recorder("push", log)])
    with pytest.raises(OSError):
        asyncio.run(sinks.deliver([output("a")]))
    assert log == []  # nothing downstream hears of what the first durable sink did not take


def test_start_in_order_stop_in_reverse() -> None:
    log: list[str] = []
    sinks = Sinks([Recorder("redis", log)], [Recorder("push", log)])
    asyncio.run(sinks.start())
    asyncio.run(sinks.stop())
    assert log == ["start redis", "start push", "stop push", "stop redis"]


def test_health_merges_problems_and_status_and_the_worker_adds_its_own() -> None:
    log: list[str] = []
    sinks = Sinks([Recorder("redis", log, SinkHealth(["redis unreachable"], {"redis_candles_written": 3}))],
                  [Recorder("push", log, SinkHealth([], {"push": {"sent": 1}}))])
    status, body = asyncio.run(worker_health(True, [], sinks))
    assert status == 503
    assert body == {"redis_candles_written": 3, "push": {"sent": 1}, "ok": False, "problems": ["redis unreachable"]}
    ok = Sinks([Recorder("redis", log, SinkHealth([], {"redis_candles_written": 3}))])
    assert asyncio.run(worker_health(True, [], ok)) == (200, {"redis_candles_written": 3, "ok": True, "problems": []})
    status, body = asyncio.run(worker_health(False, ["reorg at 9"], ok))
    assert status == 503 and body["problems"][0] == "table recovery in progress"
    assert "1 reorgs deeper than FINALITY_DEPTH" in body["problems"][1] and "reorg at 9" in body["problems"][1]


def test_the_push_reports_a_pending_connection_and_drops() -> None:
    pusher = Pusher("http://127.0.0.1:1", "t", "/listener", 0.1, 100)
    h = asyncio.run(pusher.health())
    assert h.problems == ["socket.io listener not connected: the first connection attempt has not finished"]
    assert h.status == {"push": {"connected": False, "last_error": None, "sent": 0, "queued": 0, "dropped": 0}}
    pusher.connected = True
    pusher.add([output(f"0x{i:040x}") for i in range(3)])  # outputs without candles or trades queue nothing
    pusher.outbox.dropped_trades = 2
    assert asyncio.run(pusher.health()).problems == [
        "2 pushes dropped (outbox full: the backend unreachable, or slower than the stream)"]
