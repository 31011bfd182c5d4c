"""Worker health: 200 only when tables are recovered, Redis answers and the socket.io
listener is connected (when one is configured); 503 with the reason otherwise."""

from __future__ import annotations

import asyncio
import gc
import time
import types
from typing import Any

from faust.web import Request, Response, View

from .agents import gaps
from .agents.candles import deep_reorgs
from .agents.sink import mirror, pusher
from .worker import app, raw_logs


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
                problems.append("socket.io listener not connected: "
                                + (pusher.last_error or "the first connection attempt has not finished"))
            if pusher.outbox.dropped:
                problems.append(f"{pusher.outbox.dropped} pushes dropped (outbox full: the backend unreachable, "
                                "or slower than the stream)")
        body["ok"] = not problems
        body["problems"] = problems
        return self.json(body, status=200 if not problems else 503)


def _await_chain(awaited: Any) -> list[str]:
    """Where a coroutine waits, down its whole await chain (a task shows only its own frame)."""
    out = []
    while awaited is not None:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "ag_frame", None)
        out.append(f"{frame.f_code.co_qualname} ({frame.f_code.co_filename}:{frame.f_lineno})"
                   if frame is not None else repr(awaited))
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "ag_await", None)
    return out


@app.page("/debug/tasks")
class Tasks(View):
    """Every asyncio task of the worker with where it waits: for a worker that stopped moving
    without an error (bound to 127.0.0.1 like the rest of the web server)."""

    async def get(self, request: Request) -> Response:
        now = time.monotonic()
        topic = raw_logs.get_topic_name()
        state: dict[str, Any] = {"assigned": sorted(tp.partition for tp in app.consumer.assignment() if tp.topic == topic),
                 "open_gaps": gaps.open_gaps, "next_offset": gaps.next_offset,
                 "idle_s": {p: round(now - t, 1) for p, t in gaps.last_event.items()},
                 "since_seek_s": {p: (o, round(now - t, 1)) for p, (o, t) in gaps._last_seek.items()}}
        consumer: Any = app.consumer
        for tp in consumer.assignment():
            if tp.topic == topic:
                acked = sorted(consumer._acked.get(tp) or [])
                state[f"faust {tp.partition}"] = {
                    "committed": consumer._committed_offset.get(tp), "acked": (acked[:3], len(acked)),
                    "gaps": sorted((i.begin, i.end) for i in consumer._gap.get(tp) or [])[:3],
                    "read": consumer._read_offset.get(tp),
                    "unacked": sorted(m.offset for m in consumer._unacked_messages if m.tp == tp)[:5]}
        chains = [("raw partitions", [repr(state)])]
        chains += [(task.get_name(), _await_chain(task.get_coro())) for task in asyncio.all_tasks()]
        # Compiled (Cython) frames end some chains: also every suspended coroutine and async
        # generator of this package, wherever it is awaited from.
        for obj in gc.get_objects():
            if isinstance(obj, types.CoroutineType | types.AsyncGeneratorType):
                code = obj.cr_code if isinstance(obj, types.CoroutineType) else obj.ag_code
                if "pads_stream" in code.co_filename:
                    chains.append((f"pads_stream {code.co_qualname}", _await_chain(obj)))
        return self.text("\n".join(f"--- {name}\n" + "".join(f"    {line}\n" for line in chain)
                                   for name, chain in chains))
