"""Worker health (pure over what it is given): 200 only when the table's first recovery is
done, no reorg went deeper than FINALITY_DEPTH and every sink is healthy; 503 with the
reasons otherwise."""

from __future__ import annotations

from typing import Any

from ..sinks import Sinks


async def worker_health(recovered: bool, deep_reorgs: list[str], sinks: Sinks) -> tuple[int, dict[str, Any]]:
    problems: list[str] = []
    if not recovered:
        problems.append("table recovery in progress")
    if deep_reorgs:
        problems.append(f"{len(deep_reorgs)} reorgs deeper than FINALITY_DEPTH: rebuild with "
                        f"`python -m pads_stream replay` (last: {deep_reorgs[-1]})")
    sink_health = await sinks.health()
    problems += sink_health.problems
    body: dict[str, Any] = dict(sink_health.status)
    body["ok"] = not problems
    body["problems"] = problems
    return (200 if not problems else 503), body
