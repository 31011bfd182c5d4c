"""The Redis mirror, a durable sink: one atomic script call per batch, idempotent by construction.

A candle replaces whatever member its bucket had (ZREMRANGEBYSCORE t t + ZADD), so a batch
written twice, or an older batch re-applied before a newer one, ends in the same state.

Every call also checks the namespace's epoch key (`{prefix}:mirror:epoch`), written when the
mirror starts: a Redis that came back empty, or another instance, no longer holds it. The call
that notices writes its batch again whole (markets may have been written as differences from
hashes that are gone), counts and logs the wipe, and tells `on_wiped`, which starts the
rebuild (`mirror.repair`, `ops.repair`).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import AuthenticationError, RedisError
from redis.utils import HIREDIS_AVAILABLE

if HIREDIS_AVAILABLE:
    import hiredis

from ..candles.intervals import label
from ..candles.market import rank_scores
from ..candles.output import TokenOutput
from ..errors import ConfigError
from ..jsonbytes import dumps
from ..redact import redact
from ..sinks import SinkHealth
from .keys import candles_key, market_key, prefix, rank_key, tokens_key, trade_score, trades_key
from .repair import Written

log = logging.getLogger(__name__)

RECENT_TRADES = 500
CANONICAL = orjson.OPT_SORT_KEYS


def candle_member(candle: dict[str, Any]) -> bytes:
    return dumps(candle, option=CANONICAL)


class Plan(tuple):  # type: ignore[type-arg]
    """(candles, markets, trades, tokens), and `expired`: candles key -> the bucket start before
    which its candles leave (retention); `bases`: market key -> what its hash holds already,
    where the writer knows (its first update's base)."""

    expired: dict[str, int]
    bases: dict[str, Mapping[str, str] | None]

    def __new__(cls, candles: dict[tuple[str, int], bytes | None], markets: dict[str, dict[str, str]],
                trades: dict[str, dict[int, bytes | None]], tokens: dict[str, str],
                expired: dict[str, int] | None = None,
                bases: dict[str, Mapping[str, str] | None] | None = None) -> Plan:
        self = super().__new__(cls, (candles, markets, trades, tokens))
        self.expired = expired or {}
        self.bases = bases or {}
        return self


def plan(updates: Sequence[TokenOutput | Mapping[str, Any]], namespace: str = "pads",
         bases: Sequence[Mapping[str, str] | None] | None = None, whole: bool = False) -> Plan:
    """Coalesce a batch in order: per (key, bucket) the last candle wins, None deletes it; per
    (trades key, chain position) the last trade wins, None deletes it; markets merge. `bases`,
    one per update: the market hash as it is before that update, where known (a `TokenOutput`
    carries its own, unless `whole`). A `TokenOutput`'s candles are its members as made, never re-encoded."""
    candles: dict[tuple[str, int], bytes | None] = {}
    markets: dict[str, dict[str, str]] = {}
    trades: dict[str, dict[int, bytes | None]] = {}
    tokens: dict[str, str] = {}
    expired: dict[str, int] = {}
    known: dict[str, Mapping[str, str] | None] = {}
    for n, u in enumerate(updates):
        if isinstance(u, TokenOutput):
            pfx, token = prefix(namespace, u.chain_id), u.token
            series = f"{pfx}:candles:{token}:"  # + label: `candles_key`
            for s, before in u.expired.items():
                expired[series + label(s)] = before
            for s, t in u.deleted:
                candles[(series + label(s), t)] = None
            for s, t, member in u.candles:
                candles[(series + label(s), t)] = member
            market: Mapping[str, str] = u.market_wire()
            base = None if whole else u.base
            wire_trades = u.trades_wire()
        else:
            pfx, token = prefix(namespace, u["chain_id"]), u["token"]
            for interval, before in (u.get("expired") or {}).items():
                expired[candles_key(pfx, token, interval)] = before
            for interval, buckets in (u.get("deleted") or {}).items():
                for t in buckets:
                    candles[(candles_key(pfx, token, interval), t)] = None
            for interval, cs in u["candles"].items():
                for c in cs:
                    candles[(candles_key(pfx, token, interval), c["t"])] = candle_member(c)
            market = u["market"]
            base = bases[n] if bases is not None else None
            wire_trades = u.get("trades") or []
        # Each update carries the whole snapshot: replace, so fields a reorg removed disappear.
        mkey = market_key(pfx, token)
        # A `TokenOutput`'s market is never changed once built: kept as it is, so one that is
        # its base (a settle changed no field) is known by identity, not field by field.
        markets[mkey] = market if isinstance(u, TokenOutput) and type(market) is dict else dict(market)
        if mkey not in known:
            known[mkey] = base
        tokens[token] = pfx
        tkey = trades_key(pfx, token)
        for tr in wire_trades:
            trades.setdefault(tkey, {})[trade_score(tr["block_number"], tr["log_index"])] = \
                None if tr.get("removed") else dumps(tr, option=CANONICAL)
    return Plan(candles, markets, trades, tokens, expired, known)


# One op per item, in the order a MULTI/EXEC of the same commands would run them:
#   ("z", key, score, member)  ZREMRANGEBYSCORE key score score; ZADD key score member unless None
#   ("h", key, mapping)        DEL key; HSET key mapping unless empty
#   ("u", key, mapping, gone)  HSET key mapping unless empty; HDEL key *gone unless empty
#   ("r", key, keep)           ZREMRANGEBYRANK key 0 -keep-1
#   ("s", key, member)         SADD key member
#   ("a", key, score, member)  ZADD key score member        (a ranking)
#   ("d", key, member)         ZREM key member
#   ("x", key, before)         ZREMRANGEBYSCORE key -inf (before        (retention)
#   ("e", key, expected, new)  the epoch check: the script returns the epoch key's value when it
#                              is not `expected`, after setting it to `new` if it was missing
Op = tuple[Any, ...]

# The whole batch as one script call: atomic like MULTI/EXEC, but one command to encode and one
# reply to parse instead of two per command, which cost more client CPU than the folding did.
APPLY = """
local i, n, epoch = 1, #ARGV, ''
while i <= n do
  local op, k = ARGV[i], KEYS[tonumber(ARGV[i + 1])]
  if op == 'e' then
    local now = redis.call('GET', k)
    if not now then
      redis.call('SET', k, ARGV[i + 3])
      now = ARGV[i + 3]
    end
    if now ~= ARGV[i + 2] then epoch = now end
    i = i + 4
  elseif op == 'z' then
    redis.call('ZREMRANGEBYSCORE', k, ARGV[i + 2], ARGV[i + 2])
    if ARGV[i + 3] ~= '' then redis.call('ZADD', k, ARGV[i + 2], ARGV[i + 3]) end
    i = i + 4
  elseif op == 'h' then
    local fields = tonumber(ARGV[i + 2])
    redis.call('DEL', k)
    if fields > 0 then redis.call('HSET', k, unpack(ARGV, i + 3, i + 2 + 2 * fields)) end
    i = i + 3 + 2 * fields
  elseif op == 'u' then
    local fields = tonumber(ARGV[i + 2])
    if fields > 0 then redis.call('HSET', k, unpack(ARGV, i + 3, i + 2 + 2 * fields)) end
    i = i + 3 + 2 * fields
    local gone = tonumber(ARGV[i])
    if gone > 0 then redis.call('HDEL', k, unpack(ARGV, i + 1, i + gone)) end
    i = i + 1 + gone
  elseif op == 'r' then
    redis.call('ZREMRANGEBYRANK', k, 0, -tonumber(ARGV[i + 2]) - 1)
    i = i + 3
  elseif op == 's' then
    redis.call('SADD', k, ARGV[i + 2])
    i = i + 3
  elseif op == 'a' then
    redis.call('ZADD', k, ARGV[i + 2], ARGV[i + 3])
    i = i + 4
  elseif op == 'd' then
    redis.call('ZREM', k, ARGV[i + 2])
    i = i + 3
  elseif op == 'x' then
    redis.call('ZREMRANGEBYSCORE', k, '-inf', '(' .. ARGV[i + 2])
    i = i + 3
  else
    return redis.error_reply('pads mirror: unknown op ' .. tostring(op))
  end
end
return epoch
"""


def ops(planned: Plan) -> list[Op]:
    candles, markets, trades, tokens = planned
    out: list[Op] = [("z", key, t, member) for (key, t), member in candles.items()]
    # In the write that adds the new buckets: a reader never sees a series grow past its retention.
    out += [("x", key, before) for key, before in getattr(planned, "expired", {}).items()]
    bases = getattr(planned, "bases", {})
    for key, mapping in markets.items():
        base = bases.get(key)
        if base is None:
            out.append(("h", key, mapping))
            scores = rank_scores(mapping)
        elif base is mapping:
            continue
        else:
            # What the hash holds already is not written again: about half of a busy token's
            # fields change with a trade, and the rankings follow only their own fields.
            changed = {f: v for f, v in mapping.items() if base.get(f) != v}
            gone = [f for f in base if f not in mapping]
            if not changed and not gone:
                continue
            out.append(("u", key, changed, gone))
            scores = rank_scores(mapping, [*changed, *gone])
        if scores:
            pfx, token = key.rsplit(":market:", 1)
            out += [("d", rank_key(pfx, name), token) if score is None else ("a", rank_key(pfx, name), score, token)
                    for name, score in scores.items()]
    for key, by_score in trades.items():
        out += [("z", key, score, trade) for score, trade in by_score.items()]
        out.append(("r", key, RECENT_TRADES))
    out += [("s", tokens_key(pfx), token) for token, pfx in tokens.items()]
    return out


def script_args(batch: list[Op]) -> tuple[list[str], list[bytes | str | int]]:
    """KEYS (each once, so a cluster can route the call) and the flat ARGV of `APPLY`."""
    index: dict[str, int] = {}
    args: list[bytes | str | int] = []
    for op in batch:
        kind, key = op[0], op[1]
        ki = index.setdefault(key, len(index) + 1)
        if kind == "z":
            args += ("z", ki, op[2], b"" if op[3] is None else op[3])
        elif kind == "a" or kind == "e":
            args += (kind, ki, op[2], op[3])
        elif kind == "h" or kind == "u":
            args += (kind, ki, len(op[2]))
            for field, value in op[2].items():
                args += (field, value)
            if kind == "u":
                args.append(len(op[3]))
                args += op[3]
        else:
            args += (kind, ki, op[2])
    return list(index), args


class HiredisPackingConnection(aioredis.Connection):
    """redis-py's asyncio connection packs commands in Python, one argument at a time, even
    with hiredis installed (its sync client uses hiredis). A batch's script call has thousands
    of arguments, and packing them cost more than the rest of the Redis write: pack in C."""

    def pack_command(self, *args: Any) -> list[bytes]:
        # Not redis-py's HiredisRespSerializer: it first copies every argument in a Python loop,
        # which doubles the cost of a 12,000-argument call (1.9 against 1.0 ms).
        if isinstance(args[0], str) and " " in args[0]:  # e.g. "SCRIPT LOAD": separate arguments
            args = (*args[0].split(), *args[1:])
        return [hiredis.pack_command(args)]


def connect(url: str) -> aioredis.Redis:
    # For redis:// URLs only: unix:// and rediss:// pick their own connection class.
    extra: dict[str, Any] = {"connection_class": HiredisPackingConnection} if HIREDIS_AVAILABLE else {}
    return aioredis.from_url(url, decode_responses=False, health_check_interval=30, **extra)


class RedisMirror:
    """A `DurableSink`: `write` returns once Redis holds the batch. With `epoch_key`, a wiped
    namespace is noticed (see the module docstring)."""

    name = "redis"

    def __init__(self, url: str, namespace: str = "pads", max_backoff: float = 5.0,
                 epoch_key: str | None = None) -> None:
        self.namespace = namespace
        self.redis = connect(url)
        self.apply = self.redis.register_script(APPLY)
        self.max_backoff = max_backoff
        self.written = 0
        self.errors = 0  # failed attempts, each retried
        self.epoch_key = epoch_key
        self.epoch: str | None = None  # the epoch this mirror's writes expect
        self._next_epoch = uuid.uuid4().hex  # what a missing epoch key is set to
        self.created_epoch = False  # the key was missing at start: the namespace was empty
        self.wipes = 0
        self.on_wiped: Callable[[], None] | None = None
        # Live writes since a wipe was noticed (None: no repair may be running); from the start
        # on, since one may be pending from before (the repair stops it when none is).
        self.tracking: Written | None = Written()
        self.lock = asyncio.Lock()  # a rebuild's write never interleaves with a live one
        self._whole_next = False  # a wipe was noticed: the next write ignores its outputs' bases

    async def start(self) -> None:
        if self.epoch_key is None:
            return
        delay = 0.1
        while self.epoch is None:
            try:
                self.created_epoch = bool(await self.redis.set(self.epoch_key, self._next_epoch, nx=True))
                got = await self.redis.get(self.epoch_key)
                self.epoch = got.decode() if isinstance(got, bytes) else got
            except AuthenticationError as exc:
                # Not going to change by waiting: stop the worker with the reason.
                raise ConfigError(f"REDIS_URL: Redis refused the user or password ({exc})") from None
            except (RedisError, OSError) as exc:
                if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                    raise ConfigError(f"REDIS_URL: the server's TLS certificate does not verify against "
                                      f"ssl_ca_certs ({redact(str(exc))})") from None
                log.error("redis mirror: cannot read the epoch key, retrying in %.1fs: %r", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff)
        if self.created_epoch:
            self._next_epoch = uuid.uuid4().hex
            log.info("redis mirror: no epoch key under %s; the namespace was empty (new, or lost while "
                     "the worker was down)", self.epoch_key)

    async def write(self, updates: Sequence[TokenOutput | Mapping[str, Any]]) -> None:
        """Write a batch, retrying until Redis takes it: acking an unwritten batch loses data."""
        # The agent folds the next batch while this one is written: outputs made before a
        # wipe was noticed may carry bases of hashes that are gone, so the next write is whole.
        whole, self._whole_next = self._whole_next, False
        planned = plan(updates, self.namespace, whole=whole)
        found = await self.apply_ops(ops(planned), len(planned[0]), planned)
        if found:
            self._wiped(found)
            # Markets may have gone as differences from hashes that are no more: again, whole.
            again = plan(updates, self.namespace, whole=True)
            await self.apply_ops(ops(again), len(again[0]), again)

    async def check_epoch(self) -> bool:
        """Whether the namespace was wiped since the last write (noticed here when no write comes)."""
        if self.epoch is None:
            return False
        found = await self.apply_ops([])
        if found:
            self._wiped(found)
        return bool(found)

    async def apply_ops(self, batch: list[Op] | Callable[[Written], list[Op]], candles: int = 0,
                        planned: Plan | None = None) -> str:
        """Apply ops in one script call (with the epoch check), retrying until Redis takes them;
        returns the epoch key's value if it was not the expected one, else ''. A callable
        batch is made from the live writes recorded so far, while live writes wait."""
        delay = 0.1
        while True:
            try:
                async with self.lock:
                    made = batch(self.tracking or Written()) if callable(batch) else batch
                    if self.epoch is not None:
                        made = [("e", self.epoch_key, self.epoch, self._next_epoch), *made]
                    keys, args = script_args(made)
                    found = await self.apply(keys=keys, args=args) if keys else b""
                    if planned is not None and self.tracking is not None:
                        candles_, markets, trades, _ = planned
                        self.tracking.record(candles_, markets, trades, planned.expired)
                self.written += candles
                return found.decode() if isinstance(found, bytes) else str(found or "")
            except (RedisError, OSError) as exc:
                self.errors += 1
                log.error("redis mirror write of %d candles failed, retrying in %.1fs: %r", candles, delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff)

    def _wiped(self, epoch: str) -> None:
        self.wipes += 1
        self._whole_next = True
        if epoch == self._next_epoch:
            self._next_epoch = uuid.uuid4().hex
        log.error("redis mirror: the epoch key %s no longer holds %s (Redis was emptied or replaced); "
                  "writing whole again and rebuilding the namespace from the raw-log topic",
                  self.epoch_key, self.epoch)
        self.epoch = epoch
        self.tracking = Written()  # what was written before is gone: only what comes now is newer
        if self.on_wiped is not None:
            self.on_wiped()

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except (RedisError, OSError):
            return False

    async def health(self) -> SinkHealth:
        problems = [] if await self.ping() else ["redis unreachable"]
        return SinkHealth(problems, {"redis_candles_written": self.written, "redis_wipes_noticed": self.wipes})

    def counts(self) -> dict[str, float]:
        return {"candles_written": self.written, "write_errors": self.errors, "wipes_noticed": self.wipes}

    async def stop(self) -> None:
        await self.close()

    async def close(self) -> None:
        await self.redis.aclose()
