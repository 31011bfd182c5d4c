"""`check`: recompute every candle from the raw-log topic and diff it with Redis.

The topic is read with a group-less consumer (assign + seek to beginning) up to the end
offsets taken at start, so the check never moves the workers' offsets. Redis is read after
the topic; while workers run and trades arrive, a difference can be a candle that is merely
behind or ahead of that cut: re-run before acting on it.
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TextIO

import redis.asyncio as aioredis

from ..candles.market import MARKET_FIELDS, market_fields
from ..chain.rawlog import is_rule_record, parse_message
from ..errors import DecodeError
from ..settings import WorkerSettings
from . import kafka
from .canonical import relative
from .checksum import read_values, scan_keys
from .compare import Series, compare, compare_ranks, summary
from .progress import Bar
from .recompute import Expected, LogSet, recompute


@dataclass
class Report:
    expected: Expected
    differences: list[str]
    messages: int
    unreadable: int
    warnings: list[str]


async def load_logs(s: WorkerSettings, progress: bool = True) -> tuple[LogSet, int, int, list[str]]:
    """(log set, messages read, unparsable messages, warnings)."""
    warnings: list[str] = []
    logs, n, bad = LogSet(s.chain_id), 0, 0
    async with kafka.admin(s.kafka_bootstrap_servers, s.kafka_security) as client:
        tps = await kafka.partitions_of(client, [s.raw_log_topic])
    async with kafka.consumer(s.kafka_bootstrap_servers, s.kafka_security) as c:
        begin, end = await kafka.offsets(c, tps)
        for tp in tps:
            if begin[tp] > 0:
                warnings.append(f"{tp.topic}[{tp.partition}] starts at offset {begin[tp]}: older logs were deleted "
                                "by retention and cannot be recomputed")
        total = sum(end[tp] - begin[tp] for tp in tps)
        with Bar(total, label="reading") if progress else nullcontext() as bar:
            async for _tp, value in kafka.read_all(c, tps, end):
                n += 1
                if is_rule_record(value):
                    continue
                try:
                    logs.add(parse_message(value))
                except DecodeError:
                    bad += 1  # the worker dead-letters these too
                if bar and n % 1000 == 0:
                    bar.update(n)
            if bar:
                bar.update(n)
    return logs, n, bad, warnings


async def load_redis(s: WorkerSettings) -> tuple[Series, dict[str, dict[str, str]], dict[str, dict[str, float]]]:
    """Candles, markets, and rankings (name -> token -> score)."""
    r = aioredis.from_url(s.redis_url, decode_responses=False)
    try:
        keys = await scan_keys(r, s.redis_prefix)
        rel = sorted((name, k) for k in keys if (name := relative(k, s.redis_prefix)) is not None)
        zsets = [(name, k) for name, k in rel if name.startswith("candles:") and name.count(":") == 2]
        hashes = [(name, k) for name, k in rel if name.startswith("market:") and name.count(":") == 1]
        ranks = [(name, k) for name, k in rel if name.startswith("rank:") and name.count(":") == 1]
        candles: Series = {}
        for (name, _), members in zip(zsets, await read_values(r, zsets), strict=True):
            _, token, interval = name.split(":")
            candles[(token, interval)] = list(members)
        markets = {}
        for (name, _), h in zip(hashes, await read_values(r, hashes), strict=True):
            markets[name.split(":")[1]] = {f.decode(): v.decode() for f, v in h.items()}
        rankings = {name.split(":")[1]: {m.decode(): score for m, score in members}
                    for (name, _), members in zip(ranks, await read_values(r, ranks), strict=True)}
        return candles, markets, rankings
    finally:
        await r.aclose()


async def run_check(s: WorkerSettings, progress: bool = True) -> Report:
    logs, n, bad, warnings = await load_logs(s, progress)
    params = s.market_params
    expected = recompute(logs.ordered(), logs.finalized, s.ohlcv_intervals, params, logs.time, s.candle_retention)
    candles, markets, rankings = await load_redis(s)
    fields = market_fields(params.windows) if params is not None else MARKET_FIELDS
    differences = compare(expected, candles, markets, fields) + compare_ranks(expected, rankings)
    return Report(expected, differences, n, bad, warnings)


def print_report(report: Report, limit: int, out: TextIO = sys.stdout) -> None:
    e = report.expected
    for w in report.warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(f"read {report.messages} messages ({report.unreadable} unparsable, {e.undecodable} undecodable logs); "
          f"finalized block F={e.finalized}", file=sys.stderr)
    for line in report.differences[:limit] if limit else report.differences:
        print(line, file=out)
    hidden = len(report.differences) - limit if limit else 0
    if hidden > 0:
        print(f"... {hidden} more differences not shown (--limit 0 shows all)", file=out)
    print(summary(e, len(report.differences)), file=out)
