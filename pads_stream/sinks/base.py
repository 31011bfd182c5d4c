"""Sinks: the outputs of the candle agent, in two kinds whose contracts differ.

    durable      awaited with every batch, before the table write and the ack: a log is
                 committed only once every durable sink holds what it changed. A durable
                 sink retries until it succeeds (acking an unwritten batch loses data), so a
                 slow one slows the stream and never drops. Redis today.
    best-effort  handed each batch without waiting, into a bounded buffer it drains on its
                 own schedule; it may drop, and then counts what it dropped. The socket.io
                 push today.

`Sinks` owns the order, like a stream engine's checkpoint does (quix-streams flushes sinks,
then changelogs, then offsets): each durable sink in turn, then each best-effort sink. So a
push never announces what Redis does not have yet. Every sink reports its own health.

Adding an output is one module with a class of either kind and one line in the
composition root (`pads_stream.worker`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..candles.output import TokenOutput


@dataclass(slots=True)
class SinkHealth:
    """`problems` make the worker unhealthy (503 with them); `status` is merged into /health."""

    problems: list[str] = field(default_factory=list)
    status: dict[str, Any] = field(default_factory=dict)


class DurableSink(Protocol):
    name: str

    async def start(self) -> None: ...

    async def write(self, outputs: Sequence[TokenOutput]) -> None:
        """Returns once the outputs are stored; retries (and logs) while it cannot."""

    async def health(self) -> SinkHealth: ...

    def counts(self) -> dict[str, float]:
        """Its own counters, for the metrics (`pads_sink{sink, count}`)."""

    async def stop(self) -> None: ...


class BestEffortSink(Protocol):
    name: str

    async def start(self) -> None: ...

    def add(self, outputs: Sequence[TokenOutput]) -> None:
        """Never blocks: into a bounded buffer, dropping (and counting) past its bound."""

    async def health(self) -> SinkHealth: ...

    def counts(self) -> dict[str, float]: ...

    async def stop(self) -> None: ...


class Sinks:
    def __init__(self, durable: Sequence[DurableSink] = (), best_effort: Sequence[BestEffortSink] = ()) -> None:
        self.durable = list(durable)
        self.best_effort = list(best_effort)

    @property
    def all(self) -> list[DurableSink | BestEffortSink]:
        return [*self.durable, *self.best_effort]

    async def deliver(self, outputs: Sequence[TokenOutput]) -> None:
        """Returns once every durable sink holds `outputs`; the best-effort ones have them queued."""
        if not outputs:
            return
        for sink in self.durable:
            await sink.write(outputs)
        for buffered in self.best_effort:
            buffered.add(outputs)

    async def health(self) -> SinkHealth:
        merged = SinkHealth()
        for sink in self.all:
            h = await sink.health()
            merged.problems += h.problems
            merged.status.update(h.status)
        return merged

    async def start(self) -> None:
        for sink in self.all:
            await sink.start()

    async def stop(self) -> None:
        # Best-effort first: a push flushed at the stop still follows what Redis has.
        for sink in reversed(self.all):
            await sink.stop()
