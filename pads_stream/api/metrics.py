"""The API's Prometheus metrics at /metrics: requests by route and status, and their latency.

Routes are the templates, never the raw paths (a token address per label would grow without
bound). Pure ASGI, outermost: it times everything a client waits for, the key check included.
"""

from __future__ import annotations

import re
import time

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ROUTES = [
    (re.compile(r"/v1/tokens/[^/]+/candles"), "/v1/tokens/{token}/candles"),
    (re.compile(r"/v1/tokens/[^/]+/trades"), "/v1/tokens/{token}/trades"),
    (re.compile(r"/v1/tokens/[^/]+"), "/v1/tokens/{token}"),
]
FIXED = {"/", "/health", "/metrics", "/docs", "/openapi.json", "/v1/config", "/v1/tokens", "/udf/config",
         "/udf/symbols", "/udf/search", "/udf/history", "/udf/time", "/udf/marks"}


def route_of(path: str) -> str:
    """The route template a path belongs to; `other` for anything unknown (404s included)."""
    if path in FIXED:
        return path
    for pattern, name in ROUTES:
        if pattern.fullmatch(path):
            return name
    for prefix in ("/static/", "/vendor/", "/docs/", "/udf/", "/v1/"):
        if path.startswith(prefix):
            return prefix + "*"
    return "other"


class ApiMetrics:
    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter("pads_api_requests", "HTTP requests by route and status", ["route", "status"],
                                registry=registry)
        self.seconds = Histogram("pads_api_request_seconds", "Time to answer a request, by route", ["route"],
                                 registry=registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        route = route_of(scope["path"])
        status = 500  # what the client gets if the app raises before answering
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.requests.labels(route, str(status)).inc()
            self.seconds.labels(route).observe(time.perf_counter() - started)


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
