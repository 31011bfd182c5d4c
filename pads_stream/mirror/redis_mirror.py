"""Writes candle updates into Redis: one MULTI/EXEC per batch, idempotent by construction.

A candle replaces whatever member its bucket had (ZREMRANGEBYSCORE t t + ZADD), so a batch
written twice, or an older batch re-applied before a newer one, ends in the same state.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .keys import candles_key, market_key, prefix, tokens_key, trade_score, trades_key

log = logging.getLogger(__name__)

RECENT_TRADES = 500
CANONICAL = orjson.OPT_SORT_KEYS


def candle_member(candle: dict[str, Any]) -> bytes:
    return orjson.dumps(candle, option=CANONICAL)


Plan = tuple[dict[tuple[str, int], bytes | None], dict[str, dict[str, str]],
             dict[str, dict[int, bytes | None]], dict[str, str]]


def plan(updates: list[dict[str, Any]], namespace: str = "pads") -> Plan:
    """Coalesce a batch in order: per (key, bucket) the last candle wins, None deletes it; per
    (trades key, chain position) the last trade wins, None deletes it; markets merge."""
    candles: dict[tuple[str, int], bytes | None] = {}
    markets: dict[str, dict[str, str]] = {}
    trades: dict[str, dict[int, bytes | None]] = {}
    tokens: dict[str, str] = {}
    for u in updates:
        pfx, token = prefix(namespace, u["chain_id"]), u["token"]
        for interval, buckets in (u.get("deleted") or {}).items():
            for t in buckets:
                candles[(candles_key(pfx, token, interval), t)] = None
        for interval, cs in u["candles"].items():
            for c in cs:
                candles[(candles_key(pfx, token, interval), c["t"])] = candle_member(c)
        # Each update carries the whole snapshot: replace, so fields a reorg removed disappear.
        markets[market_key(pfx, token)] = dict(u["market"])
        tokens[token] = pfx
        tkey = trades_key(pfx, token)
        for t in u.get("trades") or ():
            trades.setdefault(tkey, {})[trade_score(t["block_number"], t["log_index"])] = \
                None if t.get("removed") else orjson.dumps(t, option=CANONICAL)
    return candles, markets, trades, tokens


class RedisMirror:
    def __init__(self, url: str, namespace: str = "pads", max_backoff: float = 5.0) -> None:
        self.namespace = namespace
        self.redis = aioredis.from_url(url, decode_responses=False, health_check_interval=30)
        self.max_backoff = max_backoff
        self.written = 0

    async def write(self, updates: list[dict[str, Any]]) -> None:
        """Write a batch, retrying until Redis takes it: acking an unwritten batch loses data."""
        candles, markets, trades, tokens = plan(updates, self.namespace)
        delay = 0.1
        while True:
            try:
                async with self.redis.pipeline(transaction=True) as pipe:
                    for (key, t), member in candles.items():
                        pipe.zremrangebyscore(key, t, t)
                        if member is not None:
                            pipe.zadd(key, {member: t})
                    for key, mapping in markets.items():
                        pipe.delete(key)
                        if mapping:
                            pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]  # redis-py's Mapping is invariant
                    for key, by_score in trades.items():
                        for score, trade in by_score.items():
                            pipe.zremrangebyscore(key, score, score)
                            if trade is not None:
                                pipe.zadd(key, {trade: score})
                        pipe.zremrangebyrank(key, 0, -RECENT_TRADES - 1)
                    for token, pfx in tokens.items():
                        pipe.sadd(tokens_key(pfx), token)
                    await pipe.execute()
                self.written += len(candles)
                return
            except (RedisError, OSError) as exc:
                log.error("redis mirror write of %d candles failed, retrying in %.1fs: %r",
                          len(candles), delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff)

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        await self.redis.aclose()
