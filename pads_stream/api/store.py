"""Reading the Redis mirror: one command (a script, or a pipeline for the token list) per request.

Key names come from `pads_stream.mirror.keys`, the contract the worker writes.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ..mirror.keys import candles_key, market_key, tokens_key, trades_key
from .errors import Unavailable

# A token unknown on the chain answers nil; otherwise the newest `limit` members in [lo, hi],
# when there is a lower bound the newest member below it, and when asked for (ARGV[5] == '1')
# and there is an upper bound the oldest member above it.
CANDLES = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return false end
local rows = redis.call('ZREVRANGEBYSCORE', KEYS[2], ARGV[2], ARGV[3], 'LIMIT', 0, tonumber(ARGV[4]))
local prev = {}
if ARGV[3] ~= '-inf' then
  prev = redis.call('ZREVRANGEBYSCORE', KEYS[2], '(' .. ARGV[3], '-inf', 'LIMIT', 0, 1)
end
local nxt = {}
if ARGV[5] == '1' and ARGV[2] ~= '+inf' then
  nxt = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[2], '+inf', 'LIMIT', 0, 1)
end
return {rows, prev, nxt}
"""
MARKET = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return false end
return redis.call('HGETALL', KEYS[2])
"""
TRADES = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return false end
return redis.call('ZREVRANGEBYSCORE', KEYS[2], ARGV[2], '-inf', 'LIMIT', 0, tonumber(ARGV[3]))
"""
DIRECTORY_TTL_S = 1.0


def _pairs(flat: list[bytes]) -> dict[str, str]:
    return {flat[i].decode(): flat[i + 1].decode() for i in range(0, len(flat), 2)}


class Store:
    def __init__(self, redis_url: str, prefix: str) -> None:
        self.redis = aioredis.Redis.from_url(redis_url, decode_responses=False)
        self.prefix = prefix
        self.tokens_key = tokens_key(prefix)
        self._candles = self.redis.register_script(CANDLES)
        self._market = self.redis.register_script(MARKET)
        self._trades = self.redis.register_script(TRADES)
        self._directory: tuple[float, dict[str, dict[str, str]]] | None = None
        self._loading: asyncio.Future[dict[str, dict[str, str]]] | None = None

    async def close(self) -> None:
        await self.redis.aclose()

    async def candles(self, token: str, interval: str, lo: int | None, hi: int | None, limit: int,
                      after: bool = False) -> tuple[list[bytes], bytes | None, bytes | None] | None:
        """(members oldest first, the member before `lo`, with `after` the member after `hi`),
        or None for an unknown token."""
        args = [token, "+inf" if hi is None else hi, "-inf" if lo is None else lo, limit, "1" if after else "0"]
        out = await self._call(self._candles, [self.tokens_key, candles_key(self.prefix, token, interval)], args)
        if out is None:
            return None
        rows, prev, nxt = out
        rows.reverse()
        return rows, (prev[0] if prev else None), (nxt[0] if nxt else None)

    async def market(self, token: str) -> dict[str, str] | None:
        out = await self._call(self._market, [self.tokens_key, market_key(self.prefix, token)], [token])
        return None if out is None else _pairs(out)

    async def trades(self, token: str, before: int | None, limit: int) -> list[bytes] | None:
        top = "+inf" if before is None else f"({before}"
        return await self._call(self._trades, [self.tokens_key, trades_key(self.prefix, token)], [token, top, limit])

    async def directory(self) -> dict[str, dict[str, str]]:
        """Every token's market snapshot, at most DIRECTORY_TTL_S old; concurrent callers share one read."""
        now = time.monotonic()
        if self._directory is not None and now - self._directory[0] < DIRECTORY_TTL_S:
            return self._directory[1]
        if self._loading is None:
            self._loading = asyncio.ensure_future(self._read_directory())
            self._loading.add_done_callback(self._loaded)
        return await asyncio.shield(self._loading)

    def _loaded(self, fut: asyncio.Future[dict[str, dict[str, str]]]) -> None:
        self._loading = None
        if not fut.cancelled() and fut.exception() is None:
            self._directory = (time.monotonic(), fut.result())

    async def _read_directory(self) -> dict[str, dict[str, str]]:
        try:
            members = await self.redis.smembers(self.tokens_key)  # type: ignore[misc]
            tokens = sorted(t.decode() if isinstance(t, bytes) else str(t) for t in members)
            pipe = self.redis.pipeline(transaction=False)
            for t in tokens:
                pipe.hgetall(market_key(self.prefix, t))
            hashes = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise Unavailable(f"Redis did not answer: {type(exc).__name__}") from None
        return {t: {k.decode(): v.decode() for k, v in h.items()} for t, h in zip(tokens, hashes, strict=True)}

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())  # type: ignore[misc]
        except (RedisError, OSError):
            return False

    async def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        try:
            return await script(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            raise Unavailable(f"Redis did not answer: {type(exc).__name__}") from None
