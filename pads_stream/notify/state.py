"""The notifier's durable state in Redis, under `{REDIS_NAMESPACE}:{CHAIN_ID}:notify:` (which
`replay` leaves alone, so a replay that regenerates the same events sends none twice):

    due                  sorted set: event id -> unix time its next attempt is due
    item:{id}            hash: rule, type, body (the event's exact bytes), attempt, first (unix
                         time of the first attempt), and where it came from (topic, partition,
                         offset, key) for a dead letter
    delivered:{rule}     set of the rule's event ids delivered
    dead:{rule}          set of the rule's event ids dead-lettered

Every change is one script or MULTI, so a crash never leaves an id both done and due.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

# Skips an id that is due, delivered or dead-lettered: recording is idempotent, and a
# redelivered or replayed event is never sent again.
RECORD = """
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 or redis.call('SISMEMBER', KEYS[4], ARGV[1]) == 1
   or redis.call('EXISTS', KEYS[2]) == 1 then
  return 0
end
redis.call('HSET', KEYS[2], 'rule', ARGV[3], 'type', ARGV[4], 'body', ARGV[5], 'attempt', 0, 'first', ARGV[2],
           'topic', ARGV[6], 'partition', ARGV[7], 'offset', ARGV[8], 'key', ARGV[9])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 1
"""

# Takes what is due and moves it `lease` into the future: another notifier of the group does not
# take it meanwhile, and one that dies holding it gives it back when the lease ends.
CLAIM = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], ARGV[2], id) end
return ids
"""


@dataclass(frozen=True)
class Origin:
    topic: str
    partition: int
    offset: int
    key: bytes


@dataclass(frozen=True)
class Item:
    id: str
    rule: str
    type: str
    body: bytes
    attempt: int
    first: float
    origin: Origin


class NotifyState:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.r, self.p = redis, prefix
        self._record = redis.register_script(RECORD)
        self._claim = redis.register_script(CLAIM)

    @property
    def due_key(self) -> str:
        return f"{self.p}:due"

    def _item(self, event_id: str) -> str:
        return f"{self.p}:item:{event_id}"

    async def record(self, events: list[tuple[str, str, str, bytes, Origin]], now: float) -> list[bool]:
        """Records (id, rule, type, body, origin) as due at `now`; True for each that was new."""
        if not events:
            return []
        async with self.r.pipeline(transaction=False) as pipe:
            for event_id, rule, kind, body, o in events:
                await self._record(keys=[self.due_key, self._item(event_id), f"{self.p}:delivered:{rule}",
                                         f"{self.p}:dead:{rule}"],
                                   args=[event_id, now, rule, kind, body, o.topic, o.partition, o.offset, o.key],
                                   client=pipe)
            return [bool(x) for x in await pipe.execute()]

    async def claim(self, now: float, lease_s: float, limit: int) -> list[Item]:
        ids = [i.decode() for i in await self._claim(keys=[self.due_key], args=[now, now + lease_s, limit])]
        if not ids:
            return []
        async with self.r.pipeline(transaction=False) as pipe:
            for event_id in ids:
                pipe.hgetall(self._item(event_id))
            rows = await pipe.execute()
        out, gone = [], []
        for event_id, h in zip(ids, rows, strict=True):
            if not h:
                gone.append(event_id)  # finished by another notifier between the two calls
                continue
            out.append(Item(event_id, h[b"rule"].decode(), h[b"type"].decode(), h[b"body"], int(h[b"attempt"]),
                            float(h[b"first"]), Origin(h[b"topic"].decode(), int(h[b"partition"]),
                                                       int(h[b"offset"]), h[b"key"])))
        if gone:
            await self.r.zrem(self.due_key, *gone)
        return out

    async def _finish(self, item: Item, into: str | None) -> None:
        async with self.r.pipeline(transaction=True) as pipe:
            if into is not None:
                pipe.sadd(f"{self.p}:{into}:{item.rule}", item.id)
            pipe.zrem(self.due_key, item.id)
            pipe.delete(self._item(item.id))
            await pipe.execute()

    async def delivered(self, item: Item) -> None:
        await self._finish(item, "delivered")

    async def dead_lettered(self, item: Item) -> None:
        await self._finish(item, "dead")

    async def dropped(self, item: Item) -> None:
        """The rule lost its webhook (or was deleted) before the event went out."""
        await self._finish(item, None)

    async def retry(self, item: Item, due: float) -> None:
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.hset(self._item(item.id), "attempt", item.attempt + 1)
            pipe.zadd(self.due_key, {item.id: due}, xx=True)
            await pipe.execute()

    async def release(self, event_id: str, due: float) -> None:
        """Give a claimed id back, due at `due` (no room for it in its endpoint's queue)."""
        await self.r.zadd(self.due_key, {event_id: due}, xx=True)

    async def pending(self) -> int:
        return int(await self.r.zcard(self.due_key))

    async def is_delivered(self, rule: str, event_id: str) -> bool:
        return bool(await self.r.sismember(f"{self.p}:delivered:{rule}", event_id))
