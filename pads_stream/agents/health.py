"""Worker health and readiness (pure over what they are given).

    /health  alive and sound: 200 only when the table's first recovery is done, no reorg went
             deeper than FINALITY_DEPTH and every sink is healthy; 503 with the reasons.
    /ready   all of that, and caught up: the raw-log messages not applied yet, over the
             worker's partitions, are at most READY_MAX_LAG. A load balancer or a rollout waits
             for it; an alert watches /health.
"""

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


async def worker_ready(recovered: bool, deep_reorgs: list[str], sinks: Sinks, lag: dict[int, int] | None,
                       max_lag: int, repairing: list[str] | None = None,
                       lag_error: str | None = None) -> tuple[int, dict[str, Any]]:
    """`repairing`: a wiped Redis still being rebuilt (alive, serving what it has, not ready);
    `lag_error`: why the last lag measurement failed (Kafka unreachable)."""
    status, body = await worker_health(recovered, deep_reorgs, sinks)
    problems = body["problems"]
    problems += repairing or []
    if lag_error is not None:
        problems.append(f"consumer lag unknown: {lag_error}")
    elif lag is None:
        problems.append("consumer lag not measured yet")
    elif sum(lag.values()) > max_lag:
        problems.append(f"{sum(lag.values())} raw-log messages not applied yet (READY_MAX_LAG is {max_lag})")
    body["lag"] = None if lag is None else {str(p): n for p, n in sorted(lag.items())}
    body["ok"] = not problems
    return (200 if not problems else 503), body
