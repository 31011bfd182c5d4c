"""The adapter over faust-streaming 0.15: the only package that touches Faust's, mode's or
aiokafka's internals (private names, copied loops, patched methods). Outside it, code uses
Faust's public API (the composition root) or none at all (agents, sinks, the pure core).

    fetch      the broker's fetch wait, and the fetch loop's direct hand-over
    guard      acks that cannot commit records Faust skipped around a rebalance
    batching   batches taken straight from a stream's channel queue
    table      partition-aware table reads and writes outside Faust's stream iterator
    gaps       recovery of records the consumer skipped (decisions; I/O given)
    runtime    the Faust agent, timer and signals that drive an agent object
    debug      the task dump behind /debug/tasks

`install` applies the patches; call it once, before the app starts.
"""

from __future__ import annotations

from . import fetch, guard


def install(fetch_max_wait_ms: int) -> None:
    guard.install()
    fetch.install(fetch_max_wait_ms)
