"""Sends what is due: per endpoint (URL host) a bounded queue and at most WEBHOOK_CONCURRENCY
requests at once, so a slow or dead endpoint holds back its own deliveries only.

The scheduler claims due ids from Redis and hands each to its endpoint's queue; what does not
fit is given back to Redis for a second later, so memory stays bounded whatever the backlog.
Logs name the endpoint's host, never its URL (webhook URLs often carry a token in their path),
a secret or a signature.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import aiohttp
from redis.exceptions import RedisError

from ..redact import redact
from .metrics import Counters
from .rules import RuleLookup
from .schedule import Backoff
from .signature import sign
from .state import Item, NotifyState

log = logging.getLogger(__name__)

DeadLetter = Callable[[Item, str], Awaitable[None]]
IDLE_S = 60.0  # an endpoint's workers end after this long without work
POLL_S = 0.25  # how often due retries are looked for (new events wake the scheduler at once)


class Endpoint:
    def __init__(self, host: str, size: int) -> None:
        self.host = host
        self.queue: asyncio.Queue[Item] = asyncio.Queue(size)
        self.workers: set[asyncio.Task[None]] = set()


class Deliverer:
    def __init__(self, state: NotifyState, rules: RuleLookup, backoff: Backoff, session: aiohttp.ClientSession,
                 counters: Counters, dead_letter: DeadLetter, timeout_s: float, concurrency: int,
                 queue_size: int, clock: Callable[[], float] = time.time) -> None:
        self.state, self.rules, self.backoff, self.session = state, rules, backoff, session
        self.counters, self.dead_letter, self.clock = counters, dead_letter, clock
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.timeout_s, self.concurrency, self.queue_size = timeout_s, concurrency, queue_size
        # Long enough for a claimed id to wait behind a full queue of requests that all time out.
        self.lease_s = timeout_s * (queue_size / concurrency + 3)
        self.endpoints: dict[str, Endpoint] = {}
        self._held: set[str] = set()  # ids in a queue or a request of this process
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            now = self.clock()
            try:
                for item in await self.state.claim(now, self.lease_s, 500):
                    if item.id not in self._held:
                        await self._hand_over(item, now)
            except RedisError as exc:  # what is due stays due in Redis: try again on the next round
                log.error("reading due deliveries from Redis failed: %s", redact(str(exc)))
                await asyncio.sleep(1.0)
            try:
                await asyncio.wait_for(self._wake.wait(), POLL_S)
            except TimeoutError:
                pass

    async def _hand_over(self, item: Item, now: float) -> None:
        hook = self.rules.get(item.rule)
        if hook is None:
            log.info("event %s: rule %s has no webhook any more; not sent", item.id, item.rule)
            await self.state.dropped(item)
            return
        host = urlsplit(hook.url).netloc.rpartition("@")[2]
        ep = self.endpoints.get(host)
        if ep is None:
            ep = self.endpoints[host] = Endpoint(host, self.queue_size)
        try:
            ep.queue.put_nowait(item)
        except asyncio.QueueFull:
            await self.state.release(item.id, now + 1.0)
            return
        self._held.add(item.id)
        while len(ep.workers) < self.concurrency:
            task = asyncio.create_task(self._work(ep), name=f"webhook {host}")
            ep.workers.add(task)

    async def _work(self, ep: Endpoint) -> None:
        try:
            while True:
                try:
                    item = await asyncio.wait_for(ep.queue.get(), IDLE_S)
                except TimeoutError:
                    if ep.queue.empty():
                        return
                    continue
                try:
                    await self.attempt(item, ep.host)
                except Exception:  # noqa: BLE001 - Redis away: the lease gives the id back
                    log.exception("event %s: delivery state not saved; it comes back when its lease ends", item.id)
                finally:
                    self._held.discard(item.id)
        finally:
            ep.workers.discard(asyncio.current_task())  # type: ignore[arg-type]
            if not ep.workers and ep.queue.empty() and self.endpoints.get(ep.host) is ep:
                del self.endpoints[ep.host]

    async def attempt(self, item: Item, host: str) -> None:
        hook = self.rules.get(item.rule)
        if hook is None:
            await self.state.dropped(item)
            return
        now = self.clock()
        headers = {"Content-Type": "application/json", "X-Pads-Event-Id": item.id,
                   "X-Pads-Signature": sign(hook.secret, int(now), item.body)}
        try:
            async with self.session.post(hook.url, data=item.body, headers=headers, timeout=self.timeout,
                                         allow_redirects=False) as resp:
                ok, why = 200 <= resp.status < 300, f"HTTP {resp.status}"
        except TimeoutError:
            ok, why = False, f"no answer within {self.timeout_s * 1000:.0f} ms"
        except aiohttp.ClientError as exc:
            ok, why = False, redact(f"{type(exc).__name__}: {exc}").replace(hook.url, host)
        if ok:
            await self.state.delivered(item)
            self.counters.delivered += 1
            log.info("event %s (rule %s) delivered to %s at attempt %d", item.id, item.rule, host, item.attempt + 1)
            return
        after = self.clock()
        due = self.backoff.next_due(item.first, item.attempt, after)
        if due is None:
            reason = (f"webhook to {host} for rule {item.rule}: no 2xx in {after - item.first:.0f} s over "
                      f"{item.attempt + 1} attempts (WEBHOOK_RETRY_FOR); last: {why}")
            await self.dead_letter(item, reason)
            await self.state.dead_lettered(item)
            self.counters.dead_lettered += 1
            return
        await self.state.retry(item, due)
        self.counters.retried += 1
        log.info("event %s (rule %s) to %s failed at attempt %d (%s); next in %.1f s", item.id, item.rule, host,
                 item.attempt + 1, why, due - after)
