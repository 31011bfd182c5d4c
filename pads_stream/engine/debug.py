"""`/debug/tasks`: for a worker that stopped moving without an error. Each raw partition's
position as the gap recovery and Faust's consumer see it, then where every asyncio task
waits, down its whole await chain."""

from __future__ import annotations

import asyncio
import gc
import types
from typing import Any

from .gaps import GapRecovery


def consumer_state(app: Any, topic: str, gaps: GapRecovery) -> dict[str, Any]:
    consumer = app.consumer
    state: dict[str, Any] = {
        "assigned": sorted(tp.partition for tp in consumer.assignment() if tp.topic == topic), **gaps.status()}
    for tp in consumer.assignment():
        if tp.topic == topic:
            acked = sorted(consumer._acked.get(tp) or [])
            state[f"faust {tp.partition}"] = {
                "committed": consumer._committed_offset.get(tp), "acked": (acked[:3], len(acked)),
                "gaps": sorted((i.begin, i.end) for i in consumer._gap.get(tp) or [])[:3],
                "read": consumer._read_offset.get(tp),
                "unacked": sorted(m.offset for m in consumer._unacked_messages if m.tp == tp)[:5]}
    return state


def _await_chain(awaited: Any) -> list[str]:
    """Where a coroutine waits, down its whole await chain (a task shows only its own frame)."""
    out = []
    while awaited is not None:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "ag_frame", None)
        out.append(f"{frame.f_code.co_qualname} ({frame.f_code.co_filename}:{frame.f_lineno})"
                   if frame is not None else repr(awaited))
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "ag_await", None)
    return out


def task_dump(app: Any, topic: str, gaps: GapRecovery) -> str:
    chains = [("raw partitions", [repr(consumer_state(app, topic, gaps))])]
    chains += [(task.get_name(), _await_chain(task.get_coro())) for task in asyncio.all_tasks()]
    # Compiled (Cython) frames end some chains: also every suspended coroutine and async
    # generator of this package, wherever it is awaited from.
    for obj in gc.get_objects():
        if isinstance(obj, types.CoroutineType | types.AsyncGeneratorType):
            code = obj.cr_code if isinstance(obj, types.CoroutineType) else obj.ag_code
            if "pads_stream" in code.co_filename:
                chains.append((f"pads_stream {code.co_qualname}", _await_chain(obj)))
    return "\n".join(f"--- {name}\n" + "".join(f"    {line}\n" for line in chain) for name, chain in chains)
