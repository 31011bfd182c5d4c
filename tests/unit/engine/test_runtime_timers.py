"""The worker's timers with Kafka away: an exception out of a Faust timer stops the worker, and
the lag's end-offsets request raised one after 40 s of a broker outage (found by
tests/integration/test_service_faults.py)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

from pads_stream.engine.gaps import STALL_AFTER_S, GapRecovery
from pads_stream.engine.runtime import measure_lag, reseek


class Offsets:
    def __init__(self) -> None:
        self.error: Exception | None = None
        self.hang = False
        self.ends = {0: 10, 1: 4}

    async def beginning(self, partitions: list[int]) -> dict[int, int]:
        return {p: 0 for p in partitions}

    async def end(self, partitions: list[int]) -> dict[int, int]:
        if self.hang:
            await asyncio.sleep(60)
        if self.error is not None:
            raise self.error
        return {p: self.ends[p] for p in partitions}


class Agent:
    """The lag part of CandleAgent."""

    def __init__(self) -> None:
        self.lag: dict[int, int] | None = None
        self.lag_error: str | None = None

    def on_lag(self, lag: dict[int, int]) -> None:
        self.lag, self.lag_error = lag, None

    def on_lag_unknown(self, reason: str) -> None:
        self.lag_error = reason


def rig(now: list[float] | None = None) -> tuple[Offsets, GapRecovery]:
    offsets = Offsets()
    clock = now or [100.0]

    async def seek(p: int, offset: int) -> None:
        pass

    return offsets, GapRecovery(seek, offsets, lambda: {0, 1}, lambda p: 2, lambda: clock[0])


def test_the_lag_is_unknown_while_kafka_is_away_and_measured_again_after(caplog: pytest.LogCaptureFixture) -> None:
    offsets, gaps = rig()
    agent = Agent()
    asyncio.run(measure_lag(agent, gaps, offsets))  # type: ignore[arg-type]
    assert agent.lag == {0: 8, 1: 2} and agent.lag_error is None
    offsets.error = KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 9092)]")
    with caplog.at_level(logging.ERROR, "pads_stream"):
        asyncio.run(measure_lag(agent, gaps, offsets))  # type: ignore[arg-type]
        asyncio.run(measure_lag(agent, gaps, offsets))  # type: ignore[arg-type]
    assert agent.lag_error is not None and agent.lag_error.startswith("Kafka unreachable (KafkaConnectionError")
    assert agent.lag == {0: 8, 1: 2}  # the last measured, kept
    assert [r.getMessage() for r in caplog.records].count(
        f"consumer lag unknown: {agent.lag_error}; /ready answers 503 until it is measured again") == 1
    offsets.error, offsets.ends = None, {0: 12, 1: 2}
    asyncio.run(measure_lag(agent, gaps, offsets))  # type: ignore[arg-type]
    assert agent.lag == {0: 10, 1: 0} and agent.lag_error is None


def test_an_unanswered_end_offsets_request_makes_the_lag_unknown_without_waiting_for_the_clients_timeout() -> None:
    offsets, gaps = rig()
    offsets.hang = True
    agent = Agent()
    asyncio.run(measure_lag(agent, gaps, offsets, timeout_s=0.05))  # type: ignore[arg-type]
    assert agent.lag is None and agent.lag_error == "Kafka did not answer in 0.05 s"


def test_a_stalled_partition_check_that_cannot_reach_kafka_does_not_raise(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    offsets, gaps = rig(now)
    asyncio.run(reseek(gaps))  # partitions' clocks start
    now[0] += STALL_AFTER_S + 1
    offsets.error = KafkaTimeoutError("Failed to get offsets by times in 40000 ms")
    with caplog.at_level(logging.ERROR, "pads_stream"):
        asyncio.run(reseek(gaps))
    assert "cannot check for stalled partitions, Kafka unreachable" in caplog.text
