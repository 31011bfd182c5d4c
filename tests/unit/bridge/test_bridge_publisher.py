"""The publisher with a broker that is away: the idempotent producer retries until the broker
takes the records, so nothing raises, and the bridge's /health said 200 through a 30-s Kafka
outage (found by tests/integration/test_service_faults.py). Now a wait longer than `stall_s`
is reported, and its end too."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest

from bridge.headwatch import HeadWatch
from bridge.publisher import Publisher
from bridge.status import BridgeStatus
from pads_stream.chain.rawlog import HeadMarker
from pads_stream.kafka_security import PLAINTEXT

MARKER = HeadMarker(1, 10, "0x" + "ab" * 32, 5, 1_700_000_000)


class SlowProducer:
    """Acknowledges each record `delay` s after it was sent, or fails it with `error`."""

    def __init__(self, delay: float, error: Exception | None = None) -> None:
        self.delay, self.error = delay, error

    async def send(self, topic: str, value: bytes, key: bytes | None = None, partition: int | None = None) -> Any:
        fut = asyncio.get_running_loop().create_future()

        def ack() -> None:
            if fut.done():
                return
            if self.error is not None:
                fut.set_exception(self.error)
            else:
                fut.set_result(None)

        asyncio.get_running_loop().call_later(self.delay, ack)
        return fut

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1}


async def publisher(producer: SlowProducer, stall_s: float,
                    on_stall: Callable[[str | None], None]) -> Publisher:
    p = Publisher("127.0.0.1:9", "t", PLAINTEXT, on_stall=on_stall, stall_s=stall_s)  # needs a running loop
    p.producer = producer  # type: ignore[assignment]
    return p


def test_acknowledgements_in_time_report_nothing() -> None:
    calls: list[str | None] = []

    async def run() -> Publisher:
        p = await publisher(SlowProducer(0.01), 1.0, calls.append)
        await p.publish([], MARKER)
        return p

    assert asyncio.run(run()).markers == 2 and calls == []


def test_a_broker_that_acknowledges_late_is_reported_then_cleared(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str | None] = []

    async def run() -> Publisher:
        p = await publisher(SlowProducer(0.3), 0.05, calls.append)
        await p.publish([], MARKER)
        return p

    with caplog.at_level(logging.WARNING, "bridge"):
        p = asyncio.run(run())
    assert calls == ["Kafka has not acknowledged 2 records in 0.05 s", None]
    assert "bridge: Kafka has not acknowledged 2 records in 0.05 s; waiting" in caplog.text
    assert "bridge: Kafka acknowledged the 2 records after" in caplog.text
    assert p.markers == 2  # counted once acknowledged


def test_the_bridges_health_is_503_while_kafka_does_not_acknowledge() -> None:
    status = BridgeStatus(HeadWatch(2.0), 10)
    status.connection(True)
    seen: list[tuple[int, list[str]]] = []

    async def run() -> None:
        p = await publisher(SlowProducer(0.3), 0.05, lambda why: status.connection(why is None, why))
        task = asyncio.ensure_future(p.publish([], MARKER))
        await asyncio.sleep(0.15)
        code, body = status.health()
        seen.append((code, body["problems"]))
        await task
        code, body = status.health()
        seen.append((code, body["problems"]))

    asyncio.run(run())
    assert seen == [(503, ["not connected: Kafka has not acknowledged 2 records in 0.05 s"]), (200, [])]


def test_a_refused_record_still_raises() -> None:
    async def run() -> None:
        p = await publisher(SlowProducer(0.01, error=RuntimeError("refused")), 1.0, lambda why: None)
        await p.publish([], MARKER)

    with pytest.raises(RuntimeError, match="refused"):
        asyncio.run(run())


def test_a_cancelled_publish_stops_waiting_for_its_acknowledgements() -> None:
    calls: list[str | None] = []

    async def run() -> None:
        p = await publisher(SlowProducer(10.0), 0.01, calls.append)
        task = asyncio.ensure_future(p.publish([], MARKER))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    asyncio.run(run())
    assert calls == ["Kafka has not acknowledged 2 records in 0.01 s"]
