"""The notifier's counters, as Prometheus text on NOTIFY_PORT (`/metrics`), and `/health`.

Counters are plain integers on one object (the event loop is the only writer); the registry
reads them when scraped, so counting costs nothing on the delivery path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, fields
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

HELP = {
    "fired": "alert events seen on the market-events topic",
    "retracted": "alert_retracted events seen on the market-events topic",
    "recorded": "events with a webhook recorded for delivery (new ids only)",
    "delivered": "webhook deliveries answered with a 2xx",
    "retried": "failed webhook attempts scheduled again",
    "dead_lettered": "webhook deliveries given up after WEBHOOK_RETRY_FOR, sent to the dead-letter topic",
}


@dataclass
class Counters:
    fired: int = 0
    retracted: int = 0
    recorded: int = 0
    delivered: int = 0
    retried: int = 0
    dead_lettered: int = 0
    pending: int = 0  # a gauge: deliveries due or waiting in Redis, as last counted

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class _Collector:
    def __init__(self, counters: Counters) -> None:
        self.c = counters

    def collect(self) -> Iterator[Metric]:
        for name, text in HELP.items():
            family = CounterMetricFamily(f"pads_notify_{name}", text)
            family.add_metric([], getattr(self.c, name))
            yield family
        gauge = GaugeMetricFamily("pads_notify_pending", "webhook deliveries waiting in Redis")
        gauge.add_metric([], self.c.pending)
        yield gauge


def registry_of(counters: Counters) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(counters))  # type: ignore[arg-type]
    return registry


Status = Callable[[], Awaitable[tuple[int, dict[str, Any]]]]


async def serve(host: str, port: int, counters: Counters, health: Status) -> web.AppRunner:
    registry = registry_of(counters)

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def health_page(_: web.Request) -> web.Response:
        status, body = await health()
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/health", health_page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
