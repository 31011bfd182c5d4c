"""The worker's Prometheus metrics (`/metrics`), in a registry of its own.

Every name starts with `pads_`. Counters and histograms are fed per batch, never per log, so
watching costs nothing measurable. Gauges of the sinks (push queue, Redis writes) are read
when Prometheus scrapes. Latencies use the wall clock: they describe the service, never the
data, which stays a function of the chain alone.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


def reason_kind(reason: str) -> str:
    """A dead letter's reason as a label of few values."""
    for prefix, kind in (("a record with no value", "tombstone"), ("a value of type", "tombstone"),
                         ("not JSON", "json"), ("deep reorg", "deep_reorg"), ("message of chain", "chain")):
        if reason.startswith(prefix):
            return kind
    if "keyed" in reason:
        return "key"
    if "older than open" in reason:
        return "order"
    return "decode"


class WorkerMetrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.logs = Counter("pads_logs", "Raw-log topic messages folded (logs and head markers)", registry=r)
        self.updates = Counter("pads_token_updates", "Token updates delivered to the sinks", registry=r)
        self.batch = Histogram("pads_batch_messages", "Messages per folded batch", registry=r,
                               buckets=(1, 5, 20, 50, 100, 250, 500, 1000, 2500, 5000))
        self.stage = Histogram("pads_stage_seconds", "Time a batch spends per stage: fold, deliver (the sinks), "
                               "flush (table writes)", ["stage"], registry=r,
                               buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
        self.dead = Counter("pads_dead_letters", "Messages dead-lettered, by reason", ["reason"], registry=r)
        self.deep_reorgs = Counter("pads_deep_reorgs", "Removals deeper than FINALITY_DEPTH (rebuild needed)",
                                   registry=r)
        self.released = Counter("pads_messages_released", "Messages behind a consumer gap, read again", registry=r)
        self.table_writes = Counter("pads_table_writes", "Token-state table writes made by flushes", registry=r)
        self.produce_to_redis = Histogram("pads_produce_to_redis_seconds", "From the Kafka timestamp of a batch's "
                                          "oldest message to the durable sinks holding its outputs", registry=r,
                                          buckets=LATENCY_BUCKETS)
        self.block_to_redis = Histogram("pads_block_to_redis_seconds", "From the block timestamp of a batch's "
                                        "newest trade to the durable sinks holding it", registry=r,
                                        buckets=LATENCY_BUCKETS)
        self.chain_time = Gauge("pads_chain_time_seconds", "Block timestamp of the newest trade applied", registry=r)
        self.lag = Gauge("pads_consumer_lag", "Raw-log messages not applied yet, per partition", ["partition"],
                         registry=r)
        self.ready = Gauge("pads_ready", "1 when /ready answers 200", registry=r)
        self.sink = Gauge("pads_sink", "The sinks' own counts (redis_candles_written, push sent/queued/dropped)",
                          ["sink", "count"], registry=r)
        self._refresh: list[Callable[[], None]] = []

    def on_scrape(self, refresh: Callable[[], None]) -> None:
        self._refresh.append(refresh)

    def render(self) -> bytes:
        for refresh in self._refresh:
            refresh()
        return generate_latest(self.registry)
