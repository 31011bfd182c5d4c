"""BatchFolder: folding in batches of any size, with interruptions and redeliveries, ends in
the same table and the same Redis state as folding one message at a time."""

from __future__ import annotations

import random
import zlib
from dataclasses import replace
from typing import Any

import orjson
import pytest

from benchmarks.workload import Workload, messages, token_of
from pads_stream.candles.batch import BatchFolder, Message, pending_key, position_key
from pads_stream.candles.cache import StateCache
from pads_stream.candles.codec import decode_pending, decode_state, resolve
from pads_stream.candles.flush import WriteBehind
from pads_stream.candles.intervals import parse_intervals
from pads_stream.candles.market import MarketParams
from pads_stream.chain.rawlog import MARKER_KEY, parse_raw_log
from pads_stream.mirror.redis_mirror import ops, plan

INTERVALS = parse_intervals("1m,5m,15m,1h,4h,1d")
CHAIN = 31337
PARTITIONS = 3
REORG_FROM = 60


def partitioned(pairs: list[tuple[bytes, bytes]]) -> dict[int, list[Message]]:
    """As the bridge publishes: logs by key, markers to every partition."""
    logs: dict[int, list[Message]] = {p: [] for p in range(PARTITIONS)}
    for key, value in pairs:
        targets = range(PARTITIONS) if key == MARKER_KEY else [zlib.crc32(key) % PARTITIONS]
        for p in targets:
            logs[p].append(Message(p, len(logs[p]), key, value))
    return logs


def with_reorg(pairs: list[tuple[bytes, bytes]], depth_from: int) -> list[tuple[bytes, bytes]]:
    """Append removals (newest first) of every trade log at or above block `depth_from`."""
    gone = []
    for key, value in pairs:
        if key != MARKER_KEY and b'"kind"' not in value[:40]:
            lg = parse_raw_log(value)
            if lg.block_number >= depth_from and lg.address != "0x" + "fa" * 20:
                gone.append((key, replace(lg, removed=True).encode()))
    return pairs + gone[::-1]


class World:
    """A table, a Redis and committed offsets, fed by the folder in batches whose table writes
    wait in a `WriteBehind` buffer, as in the agent, until a flush makes them and commits."""

    def __init__(self, cache: StateCache | None = None, params: MarketParams | None = None) -> None:
        self.cache = cache
        self.params = params
        self.table: dict[tuple[int, bytes], bytes] = {}
        self.buffer = WriteBehind()
        self.unacked: list[Message] = []
        self.candles: dict[tuple[str, int], bytes] = {}
        self.markets: dict[str, dict[str, str]] = {}
        self.trades: dict[tuple[str, int], bytes] = {}
        self.committed: dict[int, int] = {p: 0 for p in range(PARTITIONS)}
        self.dead: list[str] = []

    def read(self, partition: int, key: bytes) -> bytes | None:
        held, value = self.buffer.read(key)
        return value if held else self.table.get((partition, key))

    def fold(self, batch: list[Message], landed: random.Random | None = None,
             flush: bool = True) -> dict[int, tuple[int, int]]:
        """With `landed`, the process dies during the batch and nothing unflushed is acked:
        either while the updates were in flight (some arrived, no table write was made), or
        during the flush that follows, while the table writes were in flight (each
        partition's changelog kept a prefix of its writes: a producer sends a partition's
        records in order). Without, the batch's writes join the buffer and `flush` makes
        them all and commits."""
        folder = BatchFolder(self.read, CHAIN, INTERVALS,
                             floor={p: 0 for p in range(PARTITIONS)}, cache=self.cache,  # floor: log starts
                             params=self.params)
        out = folder.run(batch)
        self.dead += [reason for _, reason in out.dead]
        if landed is not None:
            if self.cache is not None:
                self.cache.clear()
            if landed.random() < 0.5:
                self.redis([u for u in out.updates if landed.random() < 0.5])
                self.buffer.clear()
            else:
                self.redis(out.updates)
                self.buffer.add(out.writes)
                writes = self.buffer.drain()
                budget = {p: landed.randint(0, len(writes)) for p in range(PARTITIONS)}
                for p, key, value in writes:
                    budget[p] -= 1
                    if budget[p] >= 0:
                        self.write(p, key, value)
            self.unacked = []
            return out.gaps
        self.redis(out.updates)
        self.buffer.add(out.writes)
        if self.cache is not None:
            self.cache.keep(folder.states, folder.pending, folder.windows)
        self.unacked += [m for i, m in enumerate(batch) if i not in out.held]
        if flush:
            self.flush()
        return out.gaps

    def write(self, partition: int, key: bytes, value: bytes | None) -> None:
        if value is None:
            self.table.pop((partition, key), None)
        else:
            self.table[(partition, key)] = value

    def flush(self) -> None:
        for p, key, value in self.buffer.drain():
            self.write(p, key, value)
        for m in self.unacked:
            self.committed[m.partition] = max(self.committed[m.partition], m.offset + 1)
        self.unacked = []

    def redis(self, updates: list[Any]) -> None:
        # Markets as the mirror writes them: replaced, or changed field by field from the base
        # the worker remembers (never stale: the cache that holds it goes with a crash).
        planned = plan(updates, bases=[getattr(u, "base", None) for u in updates])
        candles, _, trades, _ = planned
        for k, member in candles.items():
            if member is None:
                self.candles.pop(k, None)
            else:
                self.candles[k] = member
        for op in ops(planned):
            if op[0] == "h":
                self.markets[op[1]] = dict(op[2])
            elif op[0] == "u":
                held = self.markets.setdefault(op[1], {})
                held.update(op[2])
                for f in op[3]:
                    held.pop(f, None)
        for key, by_score in trades.items():
            for score, member in by_score.items():
                if member is None:
                    self.trades.pop((key, score), None)
                else:
                    self.trades[(key, score)] = member

    def state(self) -> tuple[Any, ...]:
        return (sorted(self.table.items()), sorted(self.candles.items()), sorted(self.markets.items()),
                sorted(self.trades.items()))




def run(logs: dict[int, list[Message]], size: int, seed: int = 0, crash_every: int = 0,
        skip_every: int = 0, cache: int = 0, params: MarketParams | None = None) -> World:
    """Interleave partitions like a consumer, flushing after some batches; every
    `crash_every`-th batch dies (see `World.fold`) with what was not flushed, then delivery
    restarts from the committed offsets. Every
    `skip_every`-th batch, the consumer silently skips a few records of one partition (as
    Faust does around a rebalance) and is sought back to where the folder says."""
    rng = random.Random(seed)
    world = World(StateCache(cache) if cache else None, params)
    n = 0
    while any(world.committed[p] < len(ms) for p, ms in logs.items()):
        cursor = dict(world.committed)
        while True:
            batch: list[Message] = []
            while len(batch) < size:
                live = [p for p in logs if cursor[p] < len(logs[p])]
                if not live:
                    break
                p = rng.choice(live)
                if skip_every and (n + len(batch)) % skip_every == 0:
                    # Never the partition's last records: a later one must show the gap.
                    cursor[p] += min(rng.randint(1, 5), len(logs[p]) - cursor[p] - 1)
                take = min(rng.randint(1, size), len(logs[p]) - cursor[p], size - len(batch))
                batch += logs[p][cursor[p]:cursor[p] + take]
                cursor[p] += take
            if not batch:
                world.flush()
                break
            n += 1
            if crash_every and n % crash_every == 0:
                world.fold(batch, landed=rng)
                break  # redelivered from the committed offsets
            for p, (expected, _) in world.fold(batch, flush=rng.random() < 0.4).items():
                cursor[p] = expected
    return world


@pytest.fixture(scope="module")
def history() -> dict[int, list[Message]]:
    # 10 logs a block: about 65 blocks over two minutes, so some 1m candles become final.
    pairs = list(messages(Workload(trades=600, tokens=7, logs_per_block=10, finality_depth=3)))
    return partitioned(with_reorg(pairs, depth_from=REORG_FROM))


@pytest.fixture(scope="module")
def one_by_one(history: dict[int, list[Message]]) -> World:
    world = run(history, size=1)
    assert not world.dead
    return world


@pytest.mark.parametrize("size", [2, 7, 64, 5000])
def test_any_batch_size_ends_in_the_same_state_as_one_at_a_time(history: dict[int, list[Message]],
                                                                  one_by_one: World, size: int) -> None:
    assert run(history, size, seed=size).state() == one_by_one.state()


@pytest.mark.parametrize(("size", "crash_every"), [(1, 3), (7, 2), (64, 3), (200, 2)])
def test_interrupted_batches_redelivered_end_in_the_same_state(history: dict[int, list[Message]],
                                                                 one_by_one: World, size: int,
                                                                 crash_every: int) -> None:
    assert run(history, size, seed=size, crash_every=crash_every).state() == one_by_one.state()


@pytest.mark.parametrize(("size", "skip_every", "crash_every"), [(1, 7, 0), (7, 3, 0), (64, 2, 0), (16, 3, 4)])
def test_records_the_consumer_skipped_are_read_again_and_applied(history: dict[int, list[Message]],
                                                                   one_by_one: World, size: int,
                                                                   skip_every: int, crash_every: int) -> None:
    assert run(history, size, seed=size, crash_every=crash_every, skip_every=skip_every).state() == one_by_one.state()


@pytest.mark.parametrize(("cache", "size", "skip_every", "crash_every"), [(2, 7, 0, 0), (100, 1, 0, 3), (100, 16, 3, 4),
                                                                       (3, 64, 2, 3)])
def test_cached_states_give_the_same_state(history: dict[int, list[Message]], one_by_one: World, cache: int,
                                           size: int, skip_every: int, crash_every: int) -> None:
    world = run(history, size, seed=size, crash_every=crash_every, skip_every=skip_every, cache=cache)
    assert world.state() == one_by_one.state()
    assert world.cache is not None and 0 < len(world.cache) <= cache and world.cache.hits > 0


# Windows of one and two minutes: the history's two minutes of chain time move them.
MARKET = MarketParams(windows=(60, 120))


@pytest.fixture(scope="module")
def sparse_history() -> dict[int, list[Message]]:
    # 40 tokens, 3 logs a block over about four minutes: most windows move with no trade of their token.
    pairs = list(messages(Workload(trades=400, tokens=40, logs_per_block=3, finality_depth=3)))
    last = max(parse_raw_log(v).block_number for k, v in pairs if k != MARKER_KEY and b'"kind"' not in v[:40])
    return partitioned(with_reorg(pairs, depth_from=last - 1))


@pytest.fixture(scope="module")
def one_by_one_market(sparse_history: dict[int, list[Message]]) -> World:
    world = run(sparse_history, size=1, params=MARKET)
    assert not world.dead
    return world


@pytest.mark.parametrize(("cache", "size", "skip_every", "crash_every"), [(0, 64, 0, 0), (2, 7, 0, 0), (100, 1, 0, 3),
                                                                       (100, 16, 3, 4), (100, 64, 0, 0), (3, 64, 2, 3)])
def test_market_data_in_any_batching_with_a_cache_gives_the_same_state(
        sparse_history: dict[int, list[Message]], one_by_one_market: World, cache: int, size: int, skip_every: int,
        crash_every: int) -> None:
    # A cached state's market as last shown stands in for a snapshot after a settle alone:
    # the markets must still end as when every log is folded alone, without a cache.
    world = run(sparse_history, size, seed=size, crash_every=crash_every, skip_every=skip_every, cache=cache,
                params=MARKET)
    assert world.state() == one_by_one_market.state()
    assert any("volume_eth_1m" in m for m in one_by_one_market.markets.values())


def test_a_gap_holds_the_rest_of_its_partition_and_reports_where_to_read_again() -> None:
    pairs = [(k, v) for k, v in messages(Workload(trades=30, tokens=2)) if k != MARKER_KEY]
    table: dict[tuple[int, bytes], bytes] = {}
    first = BatchFolder(lambda p, k: table.get((p, k)), CHAIN, INTERVALS).run(
        [message(0, i, k, v) for i, (k, v) in enumerate(pairs[:10])])
    table.update({(p, k): v for p, k, v in ((p, k, resolve(v)) for p, k, v in first.writes) if v is not None})
    batch = [message(0, 14, *pairs[14]), message(1, 0, *pairs[0]), message(0, 15, *pairs[15])]
    out = BatchFolder(lambda p, k: table.get((p, k)), CHAIN, INTERVALS).run(batch)
    assert out.gaps == {0: (10, 14)} and out.held == [0, 2]
    assert [p for p, _, _ in out.writes] == [1, 1]  # partition 1 went on: a state and its position


def test_a_fresh_partition_starts_at_the_floor_and_retention_raises_it() -> None:
    pairs = [(k, v) for k, v in messages(Workload(trades=30, tokens=2)) if k != MARKER_KEY]
    out = BatchFolder(lambda p, k: None, CHAIN, INTERVALS, floor={0: 5}).run([message(0, 7, *pairs[7])])
    assert out.gaps == {0: (5, 7)}
    out = BatchFolder(lambda p, k: None, CHAIN, INTERVALS, floor={0: 7}).run([message(0, 7, *pairs[7])])
    assert not out.gaps and out.updates


def test_the_reorg_removed_trades_and_flags_settled(one_by_one: World) -> None:
    blocks = {orjson.loads(m)["block_number"] for m in one_by_one.trades.values()}
    assert blocks and max(blocks) == REORG_FROM - 1  # every trade from REORG_FROM on was removed
    finals = [orjson.loads(m)["final"] for m in one_by_one.candles.values()]
    assert any(finals) and not all(finals)  # the last blocks are not final yet
    positions = {p: orjson.loads(v) for (p, k), v in one_by_one.table.items() if k == position_key(p)}
    assert sorted(positions) == list(range(PARTITIONS))
    assert all(pos["finalized"] > 0 for pos in positions.values())


def test_pending_sets_list_exactly_the_tokens_with_pending_trades_and_their_oldest_block(one_by_one: World) -> None:
    for p in range(PARTITIONS):
        listed = decode_pending(one_by_one.table.get((p, pending_key(p))))
        holding = {k: decode_state(v).pending[0].block for (q, k), v in one_by_one.table.items()
                   if q == p and k[:1] != b"\x00" and decode_state(v).pending}
        assert listed == holding, p


def test_pending_index_mid_stream_holds_each_tokens_oldest_pending_block() -> None:
    pairs = list(messages(Workload(trades=300, tokens=7, logs_per_block=10, finality_depth=3)))
    world = run(partitioned(pairs), size=5)
    indexed = 0
    for p in range(PARTITIONS):
        listed = decode_pending(world.table.get((p, pending_key(p))))
        holding = {k: decode_state(v).pending[0].block for (q, k), v in world.table.items()
                   if q == p and k[:1] != b"\x00" and decode_state(v).pending}
        assert listed == holding, p
        indexed += len(listed)
    assert indexed > 0


def test_a_marker_reads_only_the_tokens_it_settles() -> None:
    pairs = list(messages(Workload(trades=200, tokens=30, logs_per_block=10, finality_depth=100)))
    world = World()
    logs = partitioned(pairs)[0]
    world.fold(logs)
    head = [m for m in logs if m.key == MARKER_KEY][-1]
    marker = orjson.loads(head.value)
    reads: list[bytes] = []

    def read(p: int, k: bytes) -> bytes | None:
        reads.append(k)
        return world.read(p, k)

    def next_marker(finalized: int) -> Message:
        return Message(0, len(logs), MARKER_KEY, orjson.dumps({**marker, "finalized_block": finalized}))

    oldest = decode_pending(world.table[(0, pending_key(0))])
    first = min(oldest.values())
    assert first > 0 and any(b > first for b in oldest.values())
    out = BatchFolder(read, CHAIN, INTERVALS).run([next_marker(first)])
    due = sorted(k for k, b in oldest.items() if b == first)
    assert sorted(k for k in reads if k[:1] != b"\x00") == due
    assert sorted(k for _, k, _ in out.writes if k[:1] != b"\x00") == due


def test_a_pending_set_written_as_a_list_of_tokens_reads_as_due_at_any_marker() -> None:
    assert decode_pending(b'["0xab","0xcd"]') == {b"0xab": -1, b"0xcd": -1}
    assert decode_pending(b'{"0xab":7}') == {b"0xab": 7}
    assert decode_pending(None) == {}


def message(partition: int, offset: int, key: bytes, value: bytes) -> Message:
    return Message(partition, offset, key, value)


def write(table: dict[bytes, bytes], out: Any) -> None:
    """A batch's table writes into a one-partition table."""
    for _, k, v in out.writes:
        value = resolve(v)
        if value is None:
            table.pop(k, None)
        else:
            table[k] = value


def test_a_hot_token_is_decoded_and_encoded_once_per_batch() -> None:
    pairs = [(k, v) for k, v in messages(Workload(trades=300, tokens=1, logs_per_block=500)) if k != MARKER_KEY]
    reads: list[bytes] = []
    table: dict[bytes, bytes] = {}
    folder = BatchFolder(lambda p, k: reads.append(k) or table.get(k), CHAIN, INTERVALS)
    out = folder.run([message(0, i, k, v) for i, (k, v) in enumerate(pairs)])
    token = token_of(0).encode()
    assert reads.count(token) == 1
    assert [k for _, k, _ in out.writes].count(token) == 1
    assert len(out.updates) == 1
    update = out.updates[0]
    assert len(update["trades"]) == 300 and update["market"]["trades"] == "300"
    assert decode_state(resolve(dict((k, v) for _, k, v in out.writes)[token])).offset == len(pairs) - 1


@pytest.mark.parametrize(("change", "reason"), [
    (lambda d: {**d, "chain_id": 1}, "message of chain 1 on a worker for chain 31337"),
    (lambda d: {**d, "topics": ["0x" + "ab" * 32]}, "unknown event topic"),
    (lambda d: {**d, "data": "0x12"}, ""),
])
def test_bad_messages_are_dead_lettered_with_the_reason_and_the_rest_applies(change: Any, reason: str) -> None:
    pairs = [(k, v) for k, v in messages(Workload(trades=3, tokens=1)) if k != MARKER_KEY]
    bad = orjson.dumps(change(orjson.loads(pairs[1][1])))
    batch = [message(0, 0, *pairs[0]), message(0, 1, pairs[1][0], bad), message(0, 2, *pairs[2])]
    out = BatchFolder(lambda p, k: None, CHAIN, INTERVALS).run(batch)
    assert [i for i, _ in out.dead] == [1] and reason in out.dead[0][1]
    assert out.updates[0]["market"]["trades"] == "1"


def test_a_log_keyed_by_another_token_is_refused() -> None:
    pairs = [(k, v) for k, v in messages(Workload(trades=1, tokens=1)) if k != MARKER_KEY]
    out = BatchFolder(lambda p, k: None, CHAIN, INTERVALS).run([message(0, 0, b"0x" + b"99" * 20, pairs[1][1])])
    assert out.dead and "keyed" in out.dead[0][1] and not out.updates
    assert [k for _, k, _ in out.writes] == [position_key(0)]  # only that offset 0 is done


def test_a_pending_set_lost_in_an_interruption_is_repaired_when_the_logs_come_again() -> None:
    pairs = list(messages(Workload(trades=20, tokens=1, logs_per_block=50, finality_depth=0)))
    logs = [message(0, i, k, v) for i, (k, v) in enumerate(pairs)]
    marker = max(i for i, m in enumerate(logs) if m.key == MARKER_KEY)
    world = World()
    out = BatchFolder(lambda p, k: world.table.get((p, k)), CHAIN, INTERVALS).run(logs[:marker])
    world.redis(out.updates)
    world.table.update({(p, k): resolve(v) for p, k, v in out.writes if k != pending_key(0)})  # the set never landed
    world.fold(logs)  # redelivered, with the marker that finalizes every trade
    assert world.candles and all(orjson.loads(c)["final"] for c in world.candles.values())
    assert (0, pending_key(0)) not in world.table


def test_a_tombstone_is_dead_lettered_and_the_rest_applies() -> None:
    pairs = [(k, v) for k, v in messages(Workload(trades=2, tokens=1)) if k != MARKER_KEY]
    batch = [message(0, 0, *pairs[0]), Message(0, 1, pairs[1][0], None), message(0, 2, *pairs[2])]  # type: ignore[arg-type]
    out = BatchFolder(lambda p, k: None, CHAIN, INTERVALS).run(batch)
    assert out.dead == [(1, "a record with no value (a tombstone)")]
    assert out.updates[0]["market"]["trades"] == "1" and not out.gaps and not out.held


def test_a_deep_reorg_stays_in_the_position_and_is_known_after_a_restart() -> None:
    pairs = list(messages(Workload(trades=40, tokens=1, logs_per_block=5, finality_depth=2)))
    first = next(parse_raw_log(v) for k, v in pairs if k != MARKER_KEY and b'"kind"' not in v[:40]
                 and parse_raw_log(v).address != "0x" + "fa" * 20)
    deep = (first.key, replace(first, removed=True).encode())  # its block is final long since
    table: dict[bytes, bytes] = {}

    def run(batch: list[tuple[bytes, bytes]], start: int) -> Any:
        out = BatchFolder(lambda p, k: table.get(k), CHAIN, INTERVALS).run(
            [message(0, start + i, k, v) for i, (k, v) in enumerate(batch)])
        write(table, out)
        return out

    out = run(pairs + [deep], 0)
    assert len(out.deep_reorgs) == 1 and out.deep_known == out.deep_reorgs
    assert orjson.loads(table[position_key(0)])["deep_reorgs"] == out.deep_reorgs
    # A new folder (a restarted worker) reading the partition knows it, without a new one.
    again = run([pairs[-1]], len(pairs) + 1)
    assert again.deep_reorgs == [] and again.deep_known == out.deep_reorgs


def test_a_busy_token_settles_once_per_batch_in_the_state_one_at_a_time_makes(monkeypatch: Any) -> None:
    """Head markers only note which blocks they made final; a token settles at the end of the
    batch, or before a removal, a creation or a late log needs it: every final block at once."""
    import pads_stream.candles.batch as batch_module
    pairs = list(messages(Workload(trades=300, tokens=1, logs_per_block=5, finality_depth=3)))
    pairs = with_reorg(pairs, depth_from=max(parse_raw_log(v).block_number for k, v in pairs
                                             if k != MARKER_KEY and b'"kind"' not in v[:40]) - 1)
    logs = [message(0, i, k, v) for i, (k, v) in enumerate(pairs)]
    settled: list[int] = []
    real = batch_module.settle
    monkeypatch.setattr(batch_module, "settle", lambda *a, **kw: settled.append(a[1]) or real(*a, **kw))

    def fold(size: int) -> dict[bytes, bytes]:
        table: dict[bytes, bytes] = {}
        for i in range(0, len(logs), size):
            out = BatchFolder(lambda p, k: table.get(k), CHAIN, INTERVALS).run(logs[i:i + size])
            assert not out.dead
            write(table, out)
        return table

    at_once = fold(len(logs))
    # Every marker made a block final; the first removal, after them all, settled the token once.
    assert len(settled) == 1 and sum(m.key == MARKER_KEY for m in logs) > 50
    settled.clear()
    assert fold(1) == at_once
    assert len(settled) > 50
