"""CandleAgent with fakes at the engine's seam: what it does in which order.

Every fake appends to one journal, so a test reads the order of deliveries, table writes,
acks and releases: durable sinks before the table, the table before the acks, nothing acked
that was not folded, and messages behind a gap released instead of acked.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson
import pytest

from benchmarks.workload import Workload, messages
from pads_stream.agents.candles import FLUSH_MAX_KEYS, CandleAgent
from pads_stream.agents.deadletter import DEAD_LETTER_VALUE_MAX, DeadLetters
from pads_stream.candles.batch import Message, Outcome, position_key
from pads_stream.candles.intervals import parse_intervals
from pads_stream.candles.output import TokenOutput
from pads_stream.chain.rawlog import MARKER_KEY
from pads_stream.sinks import SinkHealth, Sinks

CHAIN = 31337
INTERVALS = parse_intervals("1m,1h")


class Journal(list[tuple[str, Any]]):
    def kinds(self) -> list[str]:
        return [k for k, _ in self]


class FakeTable:
    def __init__(self, journal: Journal) -> None:
        self.journal, self.data = journal, {}  # type: ignore[var-annotated]

    def get(self, partition: int, key: bytes) -> bytes | None:
        return self.data.get((partition, key))  # type: ignore[no-any-return]

    def put(self, partition: int, key: bytes, value: bytes | None) -> None:
        self.journal.append(("put", key))
        if value is None:
            self.data.pop((partition, key), None)
        else:
            self.data[(partition, key)] = value


class FakeAcks:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def ack(self, handle: Any) -> None:
        self.journal.append(("ack", handle))

    def release(self, handle: Any) -> None:
        self.journal.append(("release", handle))


class FakeGaps:
    def __init__(self, journal: Journal) -> None:
        self.journal, self.earliest = journal, {}  # type: ignore[var-annotated]

    async def learn_earliest(self, partitions: list[int]) -> None:
        self.earliest.update(dict.fromkeys(partitions, 0))

    async def after_batch(self, messages: Sequence[Message], positions: dict[int, dict[str, Any]],
                          out: Outcome) -> None:
        self.journal.append(("gaps", dict(out.gaps)))


class FakeDurable:
    name = "durable"

    def __init__(self, journal: Journal, fail: bool = False) -> None:
        self.journal, self.fail = journal, fail

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def write(self, outputs: Sequence[TokenOutput]) -> None:
        if self.fail:
            raise ConnectionError("down")
        self.journal.append(("durable", [o.token for o in outputs]))

    async def health(self) -> SinkHealth:
        return SinkHealth()


class FakePush(FakeDurable):
    name = "push"

    def add(self, outputs: Sequence[TokenOutput]) -> None:
        self.journal.append(("push", [o.token for o in outputs]))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def logs(trades: int = 6) -> list[tuple[bytes, bytes]]:
    return [(k, v) for k, v in messages(Workload(trades=trades, tokens=2)) if k != MARKER_KEY]


def agent(journal: Journal, *, flush_s: float = 10.0, durable_fails: bool = False,
          clock: Clock | None = None) -> tuple[CandleAgent, FakeTable]:
    table = FakeTable(journal)
    sinks = Sinks([FakeDurable(journal, durable_fails)], [FakePush(journal)])

    async def dead(msg: Message, stage: str, reason: str) -> None:
        journal.append(("dead", (msg.offset, reason)))

    return CandleAgent(chain_id=CHAIN, intervals=INTERVALS, table=table, acks=FakeAcks(journal),
                       gaps=FakeGaps(journal), sinks=sinks, dead_letter=dead, cache_size=100, flush_s=flush_s,
                       clock=clock or Clock()), table


async def feed(*batches: list[Message]) -> AsyncIterator[tuple[list[Message], list[Any]]]:
    for batch in batches:
        yield batch, [f"h{m.offset}" for m in batch]


def batch(pairs: list[tuple[bytes, bytes]], first: int = 0) -> list[Message]:
    return [Message(0, first + i, k, v) for i, (k, v) in enumerate(pairs)]


def test_sinks_then_table_then_acks_and_an_idle_batch_flushes() -> None:
    journal = Journal()
    a, table = agent(journal)
    pairs = logs()
    asyncio.run(a.run(feed(batch(pairs[:4]), batch(pairs[4:], 4), [])))
    kinds = journal.kinds()
    # Two batches delivered (durable awaited, then the push), nothing written or acked until
    # the idle batch: then every table write, then every ack, in the order of the logs.
    assert kinds[:kinds.index("put")] == ["durable", "push", "gaps", "durable", "push", "gaps"]
    first_ack = kinds.index("ack")
    assert set(kinds[kinds.index("put"):first_ack]) == {"put"} and set(kinds[first_ack:]) == {"ack"}
    assert [h for k, h in journal if k == "ack"] == [f"h{i}" for i in range(len(pairs))]
    assert (0, position_key(0)) in table.data and len(a.buffer) == 0


def test_nothing_is_acked_or_written_when_the_durable_sink_fails() -> None:
    journal = Journal()
    a, table = agent(journal, durable_fails=True)
    with pytest.raises(ConnectionError):
        asyncio.run(a.run(feed(batch(logs()), [])))
    assert "ack" not in journal.kinds() and "push" not in journal.kinds() and table.data == {}
    assert len(a.buffer) == 0 and len(a.cache) == 0  # states changed in place are forgotten


def test_a_flush_comes_after_flush_s_of_batches() -> None:
    journal, clock = Journal(), Clock()
    a, _ = agent(journal, flush_s=1.0, clock=clock)
    pairs = logs()
    assert len(pairs) == 8

    async def timed() -> AsyncIterator[tuple[list[Message], list[Any]]]:
        for i, (k, v) in enumerate(pairs):
            clock.now = i * 0.4  # flushes are due at t=1.2 s (batch 3) and t=2.4 s (batch 6)
            yield [Message(0, i, k, v)], [f"h{i}"]

    asyncio.run(a.run(timed()))
    flushes: list[list[str]] = []
    for prev, (kind, handle) in zip([("", None), *journal], journal, strict=False):
        if kind == "ack":
            if prev[0] != "ack":
                flushes.append([])
            flushes[-1].append(handle)
    # The last log waits for the next flush: the stream ended without an idle batch.
    assert flushes == [[f"h{i}" for i in range(4)], [f"h{i}" for i in range(4, 7)]]


def test_messages_behind_a_gap_are_released_and_the_gap_reported() -> None:
    journal = Journal()
    a, _ = agent(journal)
    pairs = logs()
    # Offsets 0, 1, then 5: 2..4 were skipped by the consumer.
    msgs = [Message(0, 0, *pairs[0]), Message(0, 1, *pairs[1]), Message(0, 5, *pairs[2]), Message(0, 6, *pairs[3])]
    asyncio.run(a.run(feed(msgs, [])))
    assert [h for k, h in journal if k == "release"] == ["h5", "h6"]
    assert [h for k, h in journal if k == "ack"] == ["h0", "h1"]
    assert ("gaps", {0: (2, 5)}) in journal


def test_a_bad_log_is_dead_lettered_before_delivery_and_acked() -> None:
    journal = Journal()
    a, _ = agent(journal)
    pairs = logs()
    msgs = [Message(0, 0, *pairs[0]), Message(0, 1, pairs[1][0], b"{not json"), Message(0, 2, *pairs[2])]
    asyncio.run(a.run(feed(msgs, [])))
    kinds = journal.kinds()
    assert kinds.index("dead") < kinds.index("durable")
    assert [h for k, h in journal if k == "ack"] == ["h0", "h1", "h2"]


def test_a_big_buffer_flushes_before_flush_s() -> None:
    journal = Journal()
    a, _ = agent(journal, flush_s=3600.0)
    a.buffer.add([(0, b"k%d" % i, b"v") for i in range(FLUSH_MAX_KEYS)])
    asyncio.run(a.run(feed(batch(logs(2)))))
    assert "ack" in journal.kinds()


def test_revocation_forgets_cached_states() -> None:
    journal = Journal()
    a, _ = agent(journal)
    asyncio.run(a.run(feed(batch(logs()), [])))
    assert len(a.cache)
    a.on_revoked()
    assert len(a.cache) == 0


def test_a_token_is_cold_until_a_batch_has_decoded_it_and_again_once_forgotten() -> None:
    journal = Journal()
    a, _ = agent(journal)
    pairs = logs()
    tokens = {k for k, _ in pairs}
    assert all(a.cold(k) for k in tokens)
    assert not a.cold(MARKER_KEY)  # a control record has no state to decode
    asyncio.run(a.run(feed(batch(pairs), [])))
    assert not any(a.cold(k) for k in tokens)
    a.on_revoked()
    assert all(a.cold(k) for k in tokens)


def test_dead_letters_carry_the_reason_and_original_bytes() -> None:
    sent: list[tuple[bytes | None, bytes]] = []

    async def send(key: bytes | None, value: bytes) -> None:
        sent.append((key, value))

    asyncio.run(DeadLetters(send, "pads.chain-logs")(Message(3, 42, b"0xab", b"\xff{bad"), "candles", "why"))
    assert sent[0][0] == b"0xab"
    assert orjson.loads(sent[0][1]) == {"stage": "candles", "reason": "why", "topic": "pads.chain-logs",
                                        "partition": 3, "offset": 42, "key": "0xab", "value": "\ufffd{bad",
                                        "value_bytes": 5}
    # A record past DEAD_LETTER_VALUE_MAX: its beginning, its size, and where the rest is.
    huge = b"y" * (DEAD_LETTER_VALUE_MAX + 10)
    asyncio.run(DeadLetters(send, "pads.chain-logs")(Message(3, 43, b"0xab", huge), "candles", "why"))
    letter = orjson.loads(sent[1][1])
    assert letter["value"] == "y" * DEAD_LETTER_VALUE_MAX and letter["value_bytes"] == len(huge)
    assert letter["truncated"] is True and letter["offset"] == 43


def test_a_deep_reorg_alarm_outlives_a_restart() -> None:
    from dataclasses import replace

    from pads_stream.chain.rawlog import parse_raw_log

    pairs = list(messages(Workload(trades=40, tokens=1, logs_per_block=5, finality_depth=2)))
    first = next(parse_raw_log(v) for k, v in pairs if k != MARKER_KEY and b'"kind"' not in v[:40]
                 and parse_raw_log(v).address != "0x" + "fa" * 20)
    journal = Journal()
    a, table = agent(journal)
    asyncio.run(a.run(feed(batch(pairs + [(first.key, replace(first, removed=True).encode())]), [])))
    assert len(a.deep_reorgs) == 1
    restarted, _ = agent(journal)
    restarted.table = table  # the table a restarted worker recovers
    assert restarted.deep_reorgs == []
    asyncio.run(restarted.run(feed([Message(0, len(pairs) + 1, *pairs[-1])], [])))
    assert restarted.deep_reorgs == a.deep_reorgs


class SlowDurable(FakeDurable):
    async def write(self, outputs: Sequence[TokenOutput]) -> None:
        self.journal.append(("durable-begin", [o.token for o in outputs]))
        await asyncio.sleep(0.01)  # Redis running the script
        self.journal.append(("durable", [o.token for o in outputs]))


class LearningGaps(FakeGaps):
    async def learn_earliest(self, partitions: list[int]) -> None:
        self.journal.append(("fold", partitions))
        await super().learn_earliest(partitions)


def test_the_next_batch_is_folded_while_one_is_delivered_and_deliveries_keep_their_order() -> None:
    journal = Journal()
    table = FakeTable(journal)
    a = CandleAgent(chain_id=CHAIN, intervals=INTERVALS, table=table, acks=FakeAcks(journal),
                    gaps=LearningGaps(journal), sinks=Sinks([SlowDurable(journal)], [FakePush(journal)]),
                    dead_letter=lambda *_: asyncio.sleep(0), cache_size=100, flush_s=10.0, clock=Clock())
    pairs = logs()
    asyncio.run(a.run(feed(batch(pairs[:2]), batch(pairs[2:4], 2), batch(pairs[4:], 4), [])))
    kinds = journal.kinds()
    # Batch 2 is folded while batch 1 is being written, and each write starts after the one before ended.
    assert kinds[:kinds.index("put")] == ["fold", "durable-begin", "fold", "durable", "push", "gaps",
                                          "durable-begin", "fold", "durable", "push", "gaps",
                                          "durable-begin", "durable", "push", "gaps"]
    # The table and the acks wait for the last delivery.
    first_ack = kinds.index("ack")
    assert set(kinds[kinds.index("put"):first_ack]) == {"put"} and set(kinds[first_ack:]) == {"ack"}
    assert [h for k, h in journal if k == "ack"] == [f"h{i}" for i in range(len(pairs))]
