"""The worker's web pages, on Faust's web server (WEB_HOST, 127.0.0.1 by default): `/health`,
`/ready`, `/metrics` (Prometheus) and, with DEBUG_ENDPOINTS, `/debug/tasks`. Handlers are thin:
what they show is computed by the objects they are given."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import faust
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST

Status = Callable[[], Awaitable[tuple[int, dict[str, Any]]]]


def register_pages(app: faust.App, health: Status, ready: Status, metrics: Callable[[], bytes],
                   tasks: Callable[[], str] | None) -> None:
    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            status, body = await health()
            return self.json(body, status=status)

    @app.page("/ready")
    class Ready(View):
        async def get(self, request: Request) -> Response:
            status, body = await ready()
            return self.json(body, status=status)

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            # As a header: aiohttp refuses a content_type argument that carries a charset.
            return self.bytes(metrics(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    if tasks is None:
        return
    dump = tasks

    @app.page("/debug/tasks")
    class Tasks(View):
        """Every asyncio task of the worker with where it waits: for a worker that stopped
        moving without an error."""

        async def get(self, request: Request) -> Response:
            return self.text(dump())
