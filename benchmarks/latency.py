"""Latency at a fixed offered load: from a log produced to its trade visible in Redis, and to
its push received by the Node backend.

The workload's creation logs are preloaded and applied first; then its trades are produced
in real time at the offered rate, as the bridge would (idempotent producer, acks=all,
linger 5 ms), each stamped with the wall time just before its send. Redis visibility is
observed from outside the worker: keyspace notifications on the market hashes (written in
the same atomic script call as the candles and trades) trigger a read of the token's new trades.
The backend stamps what it receives (`/received`, `at`).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import statistics
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as EventT

import orjson
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer, TopicPartition

from pads_stream.alerts.rules import RULE_KEY
from pads_stream.chain.rawlog import MARKER_KEY
from pads_stream.kafka_security import KafkaSecurity
from pads_stream.mirror.keys import market_key, prefix, trade_score, trades_key
from pads_stream.ops import kafka
from pads_stream.settings import kafka_security_of

from .workload import Workload, messages

Ident = tuple[str, int, int]  # token, block, log index


@dataclass
class Latency:
    rate: int
    tokens: int
    trades: int
    seen_redis: int
    seen_push: int
    redis_ms: list[float]
    push_ms: list[float]

    @staticmethod
    def pct(values: list[float], q: float) -> float:
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def row(self) -> str:
        p = self.pct
        return (f"{self.rate:>7} {self.tokens:>7} {self.trades:>7} {p(self.redis_ms, .5):>8.1f} {p(self.redis_ms, .99):>8.1f} "
                f"{max(self.redis_ms, default=float('nan')):>8.1f} {p(self.push_ms, .5):>8.1f} {p(self.push_ms, .99):>8.1f} "
                f"{self.seen_redis:>6}/{self.seen_push:<6}")


HEADER = (f"{'offered':>7} {'tokens':>7} {'trades':>7} {'redis50':>8} {'redis99':>8} {'redisMax':>8} "
          f"{'push50':>8} {'push99':>8} seen r/p  (ms)")


def split(w: Workload) -> tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes, Ident | None]]]:
    """Creation logs (and markers between them), then the trades with their identity."""
    setup: list[tuple[bytes, bytes]] = []
    timed: list[tuple[bytes, bytes, Ident | None]] = []
    for key, value in messages(w):
        d = orjson.loads(value)
        if key not in (MARKER_KEY, RULE_KEY) and len(d["topics"]) == 3:  # a Trade (CurveCreated has 4 topics)
            timed.append((key, value, (key.decode(), d["block_number"], d["log_index"])))
        elif timed:
            timed.append((key, value, None))
        else:
            setup.append((key, value))
    return setup, timed


async def produce(bootstrap: str, security: KafkaSecurity, topic: str, partitions: int,
                  items: list[tuple[bytes, bytes, Ident | None]],
                  rate: int) -> dict[Ident, float]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5,
                                **security.aiokafka_kwargs())
    await producer.start()
    sent: dict[Ident, float] = {}
    futures = []
    try:
        start = time.monotonic()
        n = 0
        for key, value, ident in items:
            if ident is not None:
                n += 1
                delay = start + n / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                sent[ident] = time.time()
                futures.append(await producer.send(topic, value, key=key))
            else:
                for p in range(partitions):
                    futures.append(await producer.send(topic, value, key=key, partition=p))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return sent


async def watch_redis(url: str, namespace: str, chain_id: int, seen: dict[Ident, float],
                      stop: Callable[[], bool], ready: Callable[[], None]) -> None:
    r = aioredis.from_url(url)
    await r.config_set("notify-keyspace-events", "Kh")
    pfx = prefix(namespace, chain_id)
    pubsub = r.pubsub()
    head = f"__keyspace@0__:{market_key(pfx, '')}"
    await pubsub.psubscribe(head + "*")
    ready()
    last: dict[str, int] = {}
    try:
        while not stop():
            msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
            # Every notification already here is stamped before any read: reading token after
            # token would stamp the later ones late by the reads before them.
            noticed: dict[str, float] = {}
            while msg is not None:
                noticed.setdefault(msg["channel"].decode()[len(head):], time.time())
                msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0)
            if not noticed:
                continue
            async with r.pipeline(transaction=False) as pipe:
                for token in noticed:
                    pipe.zrangebyscore(trades_key(pfx, token), f"({last.get(token, -1)}", "+inf")
                found = await pipe.execute()
            for (token, at), members in zip(noticed.items(), found, strict=True):
                for m in members:
                    t = orjson.loads(m)
                    seen.setdefault((token, t["block_number"], t["log_index"]), at)
                    last[token] = max(last.get(token, -1), trade_score(t["block_number"], t["log_index"]))
    finally:
        await pubsub.aclose()
        await r.aclose()


def _watcher(url: str, namespace: str, chain_id: int, ready: EventT, stop: EventT, out: Connection) -> None:
    seen: dict[Ident, float] = {}
    asyncio.run(watch_redis(url, namespace, chain_id, seen, stop.is_set, ready.set))
    out.send(seen)


def pushed(backend_url: str, chain_id: int) -> dict[Ident, float]:
    with urllib.request.urlopen(f"{backend_url}/received?event=trade", timeout=30) as resp:
        items = json.loads(resp.read())
    out: dict[Ident, float] = {}
    for e in items:
        t = e["payload"]
        if t.get("chain_id") == chain_id and not t.get("removed"):
            out.setdefault((t["token"], t["block_number"], t["log_index"]), e["at"] / 1000)
    return out


def reset_backend(backend_url: str) -> None:
    req = urllib.request.Request(f"{backend_url}/reset", method="POST")
    urllib.request.urlopen(req, timeout=10).read()


def summarize(rate: int, tokens: int, sent: dict[Ident, float], redis_seen: dict[Ident, float],
              push_seen: dict[Ident, float]) -> Latency:
    redis_ms = [1000 * (redis_seen[i] - t) for i, t in sent.items() if i in redis_seen]
    push_ms = [1000 * (push_seen[i] - t) for i, t in sent.items() if i in push_seen]
    return Latency(rate, tokens, len(sent), len(redis_ms), len(push_ms), redis_ms, push_ms)


def describe(results: list[Latency]) -> str:
    lines = [HEADER, "-" * len(HEADER)] + [r.row() for r in results]
    if results:
        lines.append(f"(median of medians: redis {statistics.median(r.pct(r.redis_ms, .5) for r in results):.1f} ms)")
    return "\n".join(lines)


async def send_all(bootstrap: str, security: KafkaSecurity, topic: str, partitions: int,
                   pairs: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, **security.aiokafka_kwargs())
    await producer.start()
    try:
        futures = []
        for key, value in pairs:
            targets = range(partitions) if key in (MARKER_KEY, RULE_KEY) else [None]
            for p in targets:
                futures.append(await producer.send(topic, value, key=key, partition=p))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def wait_committed(env: dict[str, str], partitions: int, timeout_s: float) -> None:
    """Until the worker has committed every raw log produced so far, or `timeout_s`."""
    raw = [TopicPartition(env["RAW_LOG_TOPIC"], p) for p in range(partitions)]
    security = kafka_security_of(env)
    async with kafka.consumer(env["KAFKA_BOOTSTRAP_SERVERS"], security) as c:
        end = await c.end_offsets(raw)
    deadline = time.monotonic() + timeout_s
    async with kafka.admin(env["KAFKA_BOOTSTRAP_SERVERS"], security) as client:
        while time.monotonic() < deadline:
            committed = await kafka.committed(client, env["APP_ID"], raw)
            if all(committed[tp] >= end[tp] for tp in raw):
                return
            await asyncio.sleep(0.2)


async def offered(env: dict[str, str], partitions: int, items: list[tuple[bytes, bytes, Ident | None]],
                  rate: int, chain_id: int) -> tuple[dict[Ident, float], dict[Ident, float]]:
    """Produce at `rate` while another process watches Redis (so neither delays the other's
    time stamps); returns (sent, seen in Redis)."""
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    receive, send = ctx.Pipe(duplex=False)
    watcher = ctx.Process(target=_watcher, args=(env["REDIS_URL"], env["REDIS_NAMESPACE"], chain_id, ready, stop,
                                                 send), daemon=True)
    watcher.start()
    try:
        if not await asyncio.to_thread(ready.wait, 30):
            raise RuntimeError("the Redis watcher did not subscribe within 30 s")
        sent = await produce(env["KAFKA_BOOTSTRAP_SERVERS"], kafka_security_of(env), env["RAW_LOG_TOPIC"], partitions,
                             items, rate)
        # The trades' Redis writes are visible once the raw logs are committed (acked after Redis).
        await wait_committed(env, partitions, timeout_s=30)
        await asyncio.sleep(0.5)  # the watcher's last notifications
    finally:
        stop.set()
    seen: dict[Ident, float] = await asyncio.to_thread(receive.recv)
    await asyncio.to_thread(watcher.join, 10)
    return sent, seen
