"""CANDLE_RETENTION: folded in batches of any size, the candles Redis keeps equal the
recomputation's, which keeps a token's buckets from its last final trade minus the retention."""

from __future__ import annotations

import zlib

import pytest

from benchmarks.workload import Workload, messages
from pads_stream.candles.batch import BatchFolder, Message
from pads_stream.candles.codec import resolve
from pads_stream.candles.intervals import parse_intervals
from pads_stream.chain.rawlog import MARKER_KEY, parse_message
from pads_stream.mirror.redis_mirror import plan
from pads_stream.ops.recompute import recompute_messages

INTERVALS = parse_intervals("1s,1m,1h")
RETENTION = {1: 30, 60: 120}  # 1s buckets for 30 s, 1m buckets for two minutes; 1h kept


def fold(pairs: list[tuple[bytes, bytes]], size: int) -> dict[tuple[str, int], set[int]]:
    """Buckets present per (candles key, ...) after applying every batch's plan in order."""
    parts = 2
    logs: dict[int, list[Message]] = {p: [] for p in range(parts)}
    for key, value in pairs:
        for p in range(parts) if key == MARKER_KEY else [zlib.crc32(key) % parts]:
            logs[p].append(Message(p, len(logs[p]), key, value))
    table: dict[tuple[int, bytes], bytes] = {}
    redis: dict[str, set[int]] = {}
    for ms in logs.values():
        for i in range(0, len(ms), size):
            out = BatchFolder(lambda part, k: table.get((part, k)), 31337, INTERVALS, retention=RETENTION).run(
                ms[i:i + size])
            planned = plan(out.updates)
            for (key, t), member in planned[0].items():
                (redis.setdefault(key, set()).add if member is not None else redis.setdefault(key, set()).discard)(t)
            for key, before in planned.expired.items():
                redis[key] = {t for t in redis.get(key, set()) if t >= before}
            for part, k, v in out.writes:
                value = resolve(v)
                if value is None:
                    table.pop((part, k), None)
                else:
                    table[(part, k)] = value
    return {(key.split(":")[3], key.split(":")[4]): buckets for key, buckets in redis.items() if buckets}


@pytest.mark.parametrize("size", [1, 7, 500])
def test_kept_buckets_equal_the_recomputation_whatever_the_batches(size: int) -> None:
    pairs = list(messages(Workload(trades=1500, tokens=3, logs_per_block=5, finality_depth=3)))
    expected = recompute_messages([parse_message(v) for _, v in pairs], 31337, INTERVALS, retention=RETENTION)
    want = {key: set(buckets) for key, buckets in expected.candles.items() if buckets}
    got = fold(pairs, size)
    assert got == want
    # Retention did remove something: the workload spans minutes of chain time.
    full = recompute_messages([parse_message(v) for _, v in pairs], 31337, INTERVALS)
    assert sum(map(len, want.values())) < sum(map(len, full.candles.values()))
    assert {k for k in want if k[1] == "1h"} and all(want[k] == set(full.candles[k]) for k in want if k[1] == "1h")
