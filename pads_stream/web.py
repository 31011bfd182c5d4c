"""The worker's web pages, on Faust's web server (bound to 127.0.0.1): `/health` and
`/debug/tasks`. Handlers are thin: what they show is computed by the objects they are given."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import faust
from faust.web import Request, Response, View


def register_pages(app: faust.App, health: Callable[[], Awaitable[tuple[int, dict[str, Any]]]],
                   tasks: Callable[[], str]) -> None:
    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            status, body = await health()
            return self.json(body, status=status)

    @app.page("/debug/tasks")
    class Tasks(View):
        """Every asyncio task of the worker with where it waits: for a worker that stopped
        moving without an error."""

        async def get(self, request: Request) -> Response:
            return self.text(tasks())
