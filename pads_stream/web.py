"""Worker health: 200 only when tables are recovered, Redis answers and the socket.io
listener is connected (when one is configured); 503 with the reason otherwise."""

from __future__ import annotations

from typing import Any

from faust.web import Request, Response, View

from .agents.candles import deep_reorgs
from .agents.sink import mirror, pusher
from .worker import app


@app.page("/health")
class Health(View):
    async def get(self, request: Request) -> Response:
        problems: list[str] = []
        if not app.tables.recovery.completed.is_set():  # type: ignore[attr-defined]
            problems.append("table recovery in progress")
        if not await mirror.ping():
            problems.append("redis unreachable")
        body: dict[str, Any] = {"redis_candles_written": mirror.written}
        if deep_reorgs:
            problems.append(f"{len(deep_reorgs)} reorgs deeper than FINALITY_DEPTH: rebuild with "
                            f"`python -m pads_stream replay` (last: {deep_reorgs[-1]})")
        if pusher is not None:
            body["push"] = pusher.status()
            if not pusher.connected:
                problems.append(f"socket.io listener not connected: {pusher.last_error}")
            if pusher.outbox.dropped:
                problems.append(f"{pusher.outbox.dropped} pushes dropped while disconnected")
        body["ok"] = not problems
        body["problems"] = problems
        return self.json(body, status=200 if not problems else 503)
