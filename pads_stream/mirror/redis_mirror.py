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

from .keys import candles_key, market_key, tokens_key, trade_score, trades_key

log = logging.getLogger(__name__)

RECENT_TRADES = 500
CANONICAL = orjson.OPT_SORT_KEYS


def candle_member(candle: dict[str, Any]) -> bytes:
    return orjson.dumps(candle, option=CANONICAL)


def plan(updates: list[dict[str, Any]]) -> tuple[dict[tuple[str, int], bytes], dict[str, dict[str, str]],
                                                   dict[str, dict[bytes, int]], dict[str, int]]:
    """Coalesce a batch: the last candle per (key, bucket) and the last market per token win."""
    candles: dict[tuple[str, int], bytes] = {}
    markets: dict[str, dict[str, str]] = {}
    trades: dict[str, dict[bytes, int]] = {}
    tokens: dict[str, int] = {}
    for u in updates:
        chain, token = u["chain_id"], u["token"]
        for interval, c in u["candles"].items():
            candles[(candles_key(chain, token, interval), c["t"])] = candle_member(c)
        mkey = market_key(chain, token)
        markets.setdefault(mkey, {}).update(u["market"])
        tokens[token] = chain
        t = u.get("trade")
        if t:
            trades.setdefault(trades_key(chain, token), {})[orjson.dumps(t, option=CANONICAL)] = \
                trade_score(t["block_number"], t["log_index"])
    return candles, markets, trades, tokens


class RedisMirror:
    def __init__(self, url: str, max_backoff: float = 5.0) -> None:
        self.redis = aioredis.from_url(url, decode_responses=False, health_check_interval=30)
        self.max_backoff = max_backoff
        self.written = 0

    async def write(self, updates: list[dict[str, Any]]) -> None:
        """Write a batch, retrying until Redis takes it: acking an unwritten batch loses data."""
        candles, markets, trades, tokens = plan(updates)
        delay = 0.1
        while True:
            try:
                async with self.redis.pipeline(transaction=True) as pipe:
                    for (key, t), member in candles.items():
                        pipe.zremrangebyscore(key, t, t)
                        pipe.zadd(key, {member: t})
                    for key, mapping in markets.items():
                        if mapping:
                            pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]  # redis-py's Mapping is invariant
                    for key, members in trades.items():
                        pipe.zadd(key, members)
                        pipe.zremrangebyrank(key, 0, -RECENT_TRADES - 1)
                    for token, chain in tokens.items():
                        pipe.sadd(tokens_key(chain), token)
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
