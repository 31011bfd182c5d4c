"""The mirror's Lua script on a real Redis does exactly what its ops say as plain commands.

Each batch goes through `RedisMirror.write` into one namespace and, as the commands of
`ops(plan(...))` in a MULTI/EXEC, into another; after every batch both namespaces must hold
the same keys and values.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
import redis

from pads_stream.candles.output import TokenOutput
from pads_stream.mirror.redis_mirror import RECENT_TRADES, RedisMirror, ops, plan, script_args

pytestmark = pytest.mark.integration
TOKENS = ["0x" + c * 40 for c in "abc"]


def random_batch(rng: random.Random, size: int) -> list[dict[str, Any]]:
    batch = []
    for _ in range(size):
        token = rng.choice(TOKENS)
        candles = {lbl: [{"t": 60 * rng.randrange(8), "open": "1.5", "close": str(rng.randrange(100)),
                          "trades": rng.randrange(1, 9), "final": rng.random() < 0.5}
                         for _ in range(rng.randrange(3))] for lbl in ("1m", "5m")}
        deleted = {"1m": [60 * rng.randrange(8) for _ in range(rng.randrange(2))]}
        trades = [{"block_number": rng.randrange(700), "log_index": rng.randrange(3), "price": str(rng.random()),
                   **({"removed": True} if rng.random() < 0.2 else {})} for _ in range(rng.randrange(300))]
        market = {} if rng.random() < 0.1 else {"price": str(rng.randrange(10**30)), "trades": str(rng.randrange(9))}
        if rng.random() < 0.5:  # with derived fields: ranked
            market |= {"curve_progress": str(rng.randrange(101)), "created_at": str(rng.randrange(10**9)),
                       "volume_eth_5m": str(rng.randrange(3) * 10**17)}
            if rng.random() < 0.3:
                market |= {"graduated": "1", "graduated_at": str(rng.randrange(10**9))}
        batch.append({"chain_id": rng.choice([1, 2]), "token": token, "candles": candles, "deleted": deleted,
                      "trades": trades, "market": market})
    return batch


def random_base(rng: random.Random) -> dict[str, str]:
    fields = ["price", "trades", "curve_progress", "created_at", "volume_eth_5m", "graduated", "graduated_at", "old"]
    return {f: str(rng.randrange(3)) for f in fields if rng.random() < 0.5}


def run_plainly(r: redis.Redis, batch_ops: list[tuple[Any, ...]]) -> None:
    with r.pipeline(transaction=True) as pipe:
        for op in batch_ops:
            if op[0] == "z":
                pipe.zremrangebyscore(op[1], op[2], op[2])
                if op[3] is not None:
                    pipe.zadd(op[1], {op[3]: op[2]})
            elif op[0] == "h":
                pipe.delete(op[1])
                if op[2]:
                    pipe.hset(op[1], mapping=op[2])
            elif op[0] == "u":
                if op[2]:
                    pipe.hset(op[1], mapping=op[2])
                if op[3]:
                    pipe.hdel(op[1], *op[3])
            elif op[0] == "a":
                pipe.zadd(op[1], {op[3]: op[2]})
            elif op[0] == "d":
                pipe.zrem(op[1], op[2])
            elif op[0] == "x":
                pipe.zremrangebyscore(op[1], "-inf", f"({op[2]}")
            elif op[0] == "r":
                pipe.zremrangebyrank(op[1], 0, -op[2] - 1)
            else:
                pipe.sadd(op[1], op[2])
        pipe.execute()


def dump(r: redis.Redis, namespace: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in sorted(r.scan_iter(match=f"{namespace}:*")):
        kind = r.type(key)
        if kind == b"zset":
            value: Any = r.zrange(key, 0, -1, withscores=True)
        elif kind == b"hash":
            value = r.hgetall(key)
        else:
            value = sorted(r.smembers(key))
        out[key.decode()[len(namespace):]] = value
    return out


def test_the_script_writes_what_the_commands_say(redis_server: str) -> None:
    rng = random.Random(7)
    r = redis.Redis.from_url(redis_server)
    script_ns, plain_ns = f"script{rng.randrange(10**9)}", f"plain{rng.randrange(10**9)}"

    async def scripted(batches: list[list[dict[str, Any]]]) -> None:
        mirror = RedisMirror(redis_server, script_ns)
        try:
            for k, batch in enumerate(batches):
                if k % 2:
                    await mirror.write(batch)
                    run_plainly(r, ops(plan(batch, plain_ns)))
                else:  # markets written as differences from a base (right or wrong, the same ops)
                    bases = [None if rng.random() < 0.3 else random_base(rng) for _ in batch]
                    keys, args = script_args(ops(plan(batch, script_ns, bases)))
                    if keys:
                        await mirror.apply(keys=keys, args=args)
                    run_plainly(r, ops(plan(batch, plain_ns, bases)))
                assert dump(r, script_ns) == dump(r, plain_ns)
        finally:
            await mirror.close()

    batches = [random_batch(rng, rng.randrange(1, 6)) for _ in range(25)]
    asyncio.run(scripted(batches + [[]]))
    state = dump(r, script_ns)
    trades = [v for k, v in state.items() if ":trades:" in k]
    assert trades and max(map(len, trades)) == RECENT_TRADES  # trimming ran
    assert any(":market:" in k for k in state) and any(":candles:" in k for k in state)
    assert any(":rank:" in k for k in state)
    r.close()


def test_a_wiped_namespace_is_noticed_by_every_mirror_and_rewritten_whole(redis_server: str) -> None:
    """Two workers' mirrors share a namespace; Redis loses it. The next write of each notices
    (the second by the new epoch the first set), counts it, calls `on_wiped`, and writes its
    batch whole although its market came as a difference from a hash that is gone."""
    r = redis.Redis.from_url(redis_server)
    ns = f"wipe{random.randrange(10**9)}"
    key = f"{ns}:1:mirror:epoch"
    market = {"price": "2", "trades": "3", "curve_progress": "1"}
    before = {"price": "1", "trades": "3", "curve_progress": "1"}

    def update(token: str) -> TokenOutput:
        return TokenOutput(1, token, [], [], [], False, market, base=before)

    async def scenario() -> tuple[list[int], list[int], list[bool]]:
        a, b = RedisMirror(redis_server, ns, epoch_key=key), RedisMirror(redis_server, ns, epoch_key=key)
        called = [0, 0]
        a.on_wiped = lambda: called.__setitem__(0, called[0] + 1)
        b.on_wiped = lambda: called.__setitem__(1, called[1] + 1)
        try:
            await a.start()
            await b.start()
            created = [a.created_epoch, b.created_epoch]
            await a.write([update(TOKENS[0])])
            await b.write([update(TOKENS[1])])
            assert (a.wipes, b.wipes) == (0, 0)
            for k in r.scan_iter(f"{ns}:*"):
                r.delete(k)
            await a.write([update(TOKENS[0])])
            await b.write([update(TOKENS[1])])
            await a.write([update(TOKENS[0])])  # noticed once
            return [a.wipes, b.wipes], called, created
        finally:
            await a.close()
            await b.close()

    wipes, called, created = asyncio.run(scenario())
    assert wipes == [1, 1] and called == [1, 1] and created == [True, False]
    for token in TOKENS[:2]:
        assert r.hgetall(f"{ns}:1:market:{token}") == {k.encode(): v.encode() for k, v in market.items()}
    assert r.get(key) is not None
    r.close()


def test_the_write_after_a_noticed_wipe_is_whole_too(redis_server: str) -> None:
    """The agent folds the next batch while one is written, so the batch after the write that
    noticed a wipe was made with bases of hashes that are gone: it is written whole as well."""
    r = redis.Redis.from_url(redis_server)
    ns = f"wipe{random.randrange(10**9)}"
    key = f"{ns}:1:mirror:epoch"
    market = {"price": "2", "trades": "3", "curve_progress": "1"}
    before = {"price": "1", "trades": "3", "curve_progress": "1"}

    async def scenario() -> None:
        m = RedisMirror(redis_server, ns, epoch_key=key)
        try:
            await m.start()
            await m.write([TokenOutput(1, TOKENS[0], [], [], [], False, before)])
            for k in r.scan_iter(f"{ns}:*"):
                r.delete(k)
            await m.write([TokenOutput(1, TOKENS[1], [], [], [], False, market, base=before)])  # notices
            # Folded before the wipe was noticed: its base is the hash that was there.
            await m.write([TokenOutput(1, TOKENS[0], [], [], [], False, market, base=before)])
            assert m.wipes == 1
        finally:
            await m.close()

    asyncio.run(scenario())
    for token in TOKENS[:2]:
        assert r.hgetall(f"{ns}:1:market:{token}") == {k.encode(): v.encode() for k, v in market.items()}
    r.close()
