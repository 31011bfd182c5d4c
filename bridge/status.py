"""What the bridge reports: /health, /ready and /metrics on BRIDGE_WEB_PORT.

    /health  alive: 200 while the bridge is connected to the node and Kafka (not backing off
             after a failure); 503 with the last failure otherwise.
    /ready   healthy and caught up: the node's head is at most BRIDGE_READY_MAX_LAG blocks
             ahead of the last published block. A chain that mines only on demand (anvil)
             may stand still for long: the head's age is a metric, for an alert sized to the chain.
    /metrics Prometheus text, names prefixed `pads_bridge_`.

Wall-clock time appears only here, never in what the bridge publishes.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from pads_stream.redact import redact

from .headwatch import HeadWatch

log = logging.getLogger("bridge")


class BridgeStatus:
    def __init__(self, watch: HeadWatch, ready_max_lag: int) -> None:
        self.watch = watch
        self.ready_max_lag = ready_max_lag
        self.connected = False
        self.last_error: str | None = None
        self.published: int | None = None  # last block published
        r = self.registry = CollectorRegistry()
        self.head_block = Gauge("pads_bridge_head_block", "The node's head block, as last read", registry=r)
        self.published_block = Gauge("pads_bridge_published_block", "Last block published to Kafka", registry=r)
        self.head_lag = Gauge("pads_bridge_head_lag_blocks", "Head block minus the last published block", registry=r)
        self.head_age = Gauge("pads_bridge_head_age_seconds", "Seconds since the head last moved", registry=r)
        self.head_age.set_function(lambda: self.watch.age(time.monotonic()) or 0.0)
        self.watchdog = Gauge("pads_bridge_head_timeout_seconds",
                              "Head watchdog timeout (a few observed block intervals)", registry=r)
        self.watchdog.set_function(self.watch.timeout)
        self.up = Gauge("pads_bridge_connected", "1 while connected to the node and Kafka", registry=r)
        self.logs = Counter("pads_bridge_logs_published", "Logs published (removals included)", registry=r)
        self.reorgs = Counter("pads_bridge_reorgs", "Reorgs undone", registry=r)
        self.reorg_depth = Histogram("pads_bridge_reorg_depth_blocks", "Depth of the reorgs undone", registry=r,
                                     buckets=(1, 2, 3, 5, 10, 20, 50, 100, 200))
        self.errors = Counter("pads_bridge_errors", "Failures that restarted the bridge, by what failed",
                              ["what"], registry=r)
        self.rate_limited = Counter("pads_bridge_rate_limited", "Requests the node rate-limited", registry=r)
        self.resubscribed = Counter("pads_bridge_resubscribed", "newHeads subscriptions renewed after going quiet",
                                    registry=r)
        self.checkpoints = Counter("pads_bridge_checkpoints", "Checkpoints written", registry=r)

    def saw_head(self, head: int) -> bool:
        moved = self.watch.observe(head, time.monotonic())
        self.head_block.set(head)
        self._lag()
        return moved

    def published_up_to(self, block: int, logs: int) -> None:
        self.published = block
        self.published_block.set(block)
        self.logs.inc(logs)
        self.checkpoints.inc()
        self._lag()

    def reorg(self, depth: int, removed: int) -> None:
        self.reorgs.inc()
        self.reorg_depth.observe(depth)
        self.logs.inc(removed)

    def connection(self, up: bool, error: str | None = None, what: str | None = None) -> None:
        self.connected = up
        self.up.set(1 if up else 0)
        if error is not None:
            self.last_error = redact(error)  # web3's errors carry the node's URL and key
        if what is not None:
            self.errors.labels(what).inc()

    def _lag(self) -> None:
        if self.watch.head is not None and self.published is not None:
            self.head_lag.set(max(0, self.watch.head - self.published))

    def health(self) -> tuple[int, dict[str, Any]]:
        problems = [] if self.connected else [f"not connected: {self.last_error or 'starting'}"]
        age = self.watch.age(time.monotonic())
        body: dict[str, Any] = {"ok": not problems, "problems": problems, "head": self.watch.head,
                                "published": self.published, "head_age_s": None if age is None else round(age, 1),
                                "head_timeout_s": round(self.watch.timeout(), 2), "last_error": self.last_error}
        return (200 if not problems else 503), body

    def ready(self) -> tuple[int, dict[str, Any]]:
        status, body = self.health()
        problems = body["problems"]
        head, published = self.watch.head, self.published
        if head is None or published is None:
            problems.append("nothing published yet")
        elif head - published > self.ready_max_lag:
            problems.append(f"{head - published} blocks behind the head (BRIDGE_READY_MAX_LAG is {self.ready_max_lag})")
        body["ok"] = not problems
        return (200 if not problems else 503), body


async def serve(status: BridgeStatus, host: str, port: int) -> web.AppRunner:
    async def health(_: web.Request) -> web.Response:
        code, body = status.health()
        return web.json_response(body, status=code)

    async def ready(_: web.Request) -> web.Response:
        code, body = status.ready()
        return web.json_response(body, status=code)

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(status.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("bridge: /health, /ready and /metrics on http://%s:%d", host, port)
    return runner
