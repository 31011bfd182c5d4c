"""`checksum`: a digest of the candles and market data under `{namespace}:{chain_id}`.

Reads with SCAN (never KEYS) and pipelined reads in batches. The data is read key by key,
not as one snapshot: run it on a namespace nobody is writing to (stopped workers, or a
replay's target) when the digest is meant to be compared.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from . import OpsError
from .canonical import Digest, kind_of, sorted_relative

SCAN_COUNT = 1000
BATCH = 200


async def scan_keys(r: aioredis.Redis, prefix: str) -> list[bytes]:
    # The namespace setting only allows [A-Za-z0-9_.-] and the chain id is numeric, so the
    # prefix holds no glob metacharacters.
    return [k async for k in r.scan_iter(match=f"{prefix}:*", count=SCAN_COUNT)]


async def read_values(r: aioredis.Redis, items: list[tuple[str, Any]]) -> list[Any]:
    """Each key's value by its kind: zset -> [(member, score)], hash -> {field: value}, set."""
    out: list[Any] = []
    for i in range(0, len(items), BATCH):
        chunk = items[i:i + BATCH]
        async with r.pipeline(transaction=False) as pipe:
            for rel, key in chunk:
                kind = kind_of(rel)
                if kind == "zset":
                    pipe.zrange(key, 0, -1, withscores=True)
                elif kind == "hash":
                    pipe.hgetall(key)
                else:
                    pipe.smembers(key)
            results = await pipe.execute(raise_on_error=False)
        for (rel, key), res in zip(chunk, results, strict=True):
            if isinstance(res, ResponseError):
                raise OpsError(f"{key!r} is not a Redis {kind_of(rel)}: {res}")
            out.append(res)
    return out


async def redis_checksum(url: str, prefix: str) -> Digest:
    r = aioredis.from_url(url, decode_responses=False)
    try:
        items = sorted_relative(await scan_keys(r, prefix), prefix)
        digest = Digest()
        for i in range(0, len(items), BATCH):
            chunk = items[i:i + BATCH]
            for (rel, _), value in zip(chunk, await read_values(r, chunk), strict=True):
                digest.add(rel, value)
        return digest
    finally:
        await r.aclose()
