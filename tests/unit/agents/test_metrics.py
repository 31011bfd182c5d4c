"""The worker's metrics and readiness: what a batch adds to them, and when /ready is 200."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pads_stream.agents.health import worker_health, worker_ready
from pads_stream.agents.metrics import WorkerMetrics, reason_kind
from pads_stream.sinks import SinkHealth, Sinks
from tests.unit.agents.test_candle_agent import FakeDurable, Journal, agent, batch, feed, logs


def samples(m: WorkerMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(m.render().decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.mark.parametrize(("reason", "kind"), [
    ("a record with no value (a tombstone)", "tombstone"),
    ("not JSON: unexpected character", "json"),
    ("deep reorg: removed log at block 9", "deep_reorg"),
    ("message of chain 1 on a worker for chain 31337", "chain"),
    ("log of token 0xab keyed b'0xcd': producers must key", "key"),
    ("trade at 5 (block 2) is older than open 60s candle 60 of 0xab", "order"),
    ("unknown event topic 0x12", "decode"),
])
def test_reason_kinds(reason: str, kind: str) -> None:
    assert reason_kind(reason) == kind


def test_a_batch_counts_its_logs_updates_dead_letters_and_stages() -> None:
    journal = Journal()
    a, _ = agent(journal)
    a.metrics = m = WorkerMetrics()
    pairs = logs()
    msgs = batch(pairs)
    msgs[1] = type(msgs[1])(0, 1, pairs[1][0], b"{not json", 1_700_000_000.0)
    asyncio.run(a.run(feed(msgs, [])))
    got = samples(m)
    assert got[("pads_logs_total", ())] == len(pairs)
    assert got[("pads_dead_letters_total", (("reason", "json"),))] == 1
    assert got[("pads_token_updates_total", ())] == 2  # two tokens
    assert got[("pads_batch_messages_count", ())] == 1 and got[("pads_batch_messages_sum", ())] == len(pairs)
    for stage in ("fold", "deliver", "flush"):
        assert got[("pads_stage_seconds_count", (("stage", stage),))] == 1
    assert got[("pads_table_writes_total", ())] > 0
    assert got[("pads_produce_to_redis_seconds_count", ())] == 1  # the one message with a Kafka timestamp
    assert got[("pads_block_to_redis_seconds_count", ())] == 1
    assert got[("pads_chain_time_seconds", ())] >= 1_700_000_000  # the workload's block times


def test_lag_per_partition_and_partitions_that_left() -> None:
    a, _ = agent(Journal())
    a.metrics = m = WorkerMetrics()
    a.on_lag({0: 5, 3: 0})
    a.on_lag({3: 7})
    got = samples(m)
    assert got[("pads_consumer_lag", (("partition", "3"),))] == 7
    assert ("pads_consumer_lag", (("partition", "0"),)) not in got


def test_ready_needs_health_a_measured_lag_and_a_small_one() -> None:
    ok = Sinks([FakeDurable(Journal())])
    status, body = asyncio.run(worker_ready(True, [], ok, None, 100))
    assert status == 503 and body["problems"] == ["consumer lag not measured yet"] and body["lag"] is None
    status, body = asyncio.run(worker_ready(True, [], ok, {0: 60, 1: 41}, 100))
    assert status == 503 and body["problems"] == ["101 raw-log messages not applied yet (READY_MAX_LAG is 100)"]
    assert asyncio.run(worker_ready(True, [], ok, {0: 60, 1: 40}, 100)) == (
        200, {"ok": True, "problems": [], "lag": {"0": 60, "1": 40}})
    status, body = asyncio.run(worker_ready(False, [], ok, {0: 0}, 100))
    assert status == 503 and body["problems"] == ["table recovery in progress"]
    # Rebuilding a wiped Redis: alive and caught up, not ready.
    status, body = asyncio.run(worker_ready(True, [], ok, {0: 0}, 100, ["rebuilding partitions [1]"]))
    assert status == 503 and body["problems"] == ["rebuilding partitions [1]"]
    assert asyncio.run(worker_health(True, [], ok))[0] == 200


def test_ready_says_the_lag_is_unknown_while_kafka_does_not_answer() -> None:
    ok = Sinks([FakeDurable(Journal())])
    status, body = asyncio.run(worker_ready(True, [], ok, {0: 0}, 100, [], "Kafka did not answer in 10 s"))
    assert status == 503 and body["problems"] == ["consumer lag unknown: Kafka did not answer in 10 s"]
    assert body["lag"] == {"0": 0}  # the last measured
    assert asyncio.run(worker_health(True, [], ok))[0] == 200  # alive: /health is not about Kafka
    a, _ = agent(Journal())
    a.on_lag({0: 3})
    a.on_lag_unknown("Kafka did not answer in 10 s")
    assert a.lag == {0: 3} and a.lag_error == "Kafka did not answer in 10 s"
    a.on_lag({0: 0})
    assert a.lag_error is None


def test_sink_counts_are_read_at_scrape() -> None:
    m = WorkerMetrics()
    written = {"n": 3}
    m.on_scrape(lambda: m.sink.labels("redis", "candles_written").set(written["n"]))
    assert samples(m)[("pads_sink", (("count", "candles_written"), ("sink", "redis")))] == 3
    written["n"] = 9
    assert samples(m)[("pads_sink", (("count", "candles_written"), ("sink", "redis")))] == 9
    assert SinkHealth().problems == []


def test_behind_means_a_measured_lag_larger_than_a_batch() -> None:
    a, _ = agent(Journal())
    assert not a.behind(100)  # not measured yet
    a.on_lag({0: 60, 1: 40})
    assert not a.behind(100)
    a.on_lag({0: 60, 1: 41})
    assert a.behind(100)
