"""The composition root: settings, the Faust app, its topics and table, the sinks, the candle
agent, its gap recovery, and the web pages. Nothing imports this module back (`faust -A
pads_stream worker` finds `app` through `pads_stream.__getattr__`).

    pads.chain-logs --candles (decode, fold; table token-state)--> sinks: Redis (durable),
                                 \\-> pads.dead-letters               socket.io push (best effort)

The raw-log topic is keyed by token and shares TOPIC_PARTITIONS with the table changelog,
so a token's logs and state stay on one partition and adding workers never changes results.
To add an output: a sink module (see `pads_stream.sinks`) and one line in `build_sinks`.
"""

from __future__ import annotations

import gc
import logging
import os
import time
from typing import Any

import faust

from . import engine
from .agents.candles import CandleAgent
from .agents.deadletter import DeadLetters
from .agents.health import worker_health, worker_ready
from .agents.metrics import WorkerMetrics
from .agents.stats import STATS_EVERY_S
from .engine.credentials import app_kwargs as kafka_credentials
from .engine.debug import task_dump
from .engine.runtime import FaustAcks, KafkaOffsets, Worker, gap_recovery, recovered, run_candle_agent
from .engine.table import PartitionTable
from .mirror.keys import epoch_key
from .mirror.redis_mirror import RedisMirror
from .ops.repair import REPAIR_EVERY_S, MirrorRepair
from .publish.events import EventPublisher
from .push.client import Pusher
from .settings import WorkerSettings, worker_settings
from .sinks import BestEffortSink, DurableSink, Sinks
from .topics import MAX_STATE_BYTES, ensure_topics_blocking
from .web import register_pages

log = logging.getLogger(__name__)
settings = worker_settings()
# Faust reads WEB_PORT from the environment too, over its argument, and refuses our "off" (0):
# the setting reaches it as the argument below.
os.environ.pop("WEB_PORT", None)
engine.install(settings.fetch_max_wait_ms)

# Our own loggers follow LOG_LEVEL whatever `faust worker -l` sets for Faust's.
logging.getLogger("pads_stream").setLevel(settings.log_level)
_handlers: list[logging.Handler] = []
if settings.log_file:
    _fh = logging.FileHandler(settings.log_file)
    _fh.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)s %(name)s: %(message)s"))
    _handlers.append(_fh)

_gc_started = 0.0
GC_YOUNG = 50_000  # allocations between young collections (see _start)


def _watch_full_collections(phase: str, info: dict[str, Any]) -> None:
    # A full collection stops everything, and it grows with the heap: say when one was long.
    global _gc_started
    if info["generation"] != 2:
        return
    if phase == "start":
        _gc_started = time.perf_counter()
    elif (took := time.perf_counter() - _gc_started) > 0.01:
        log.info("a full garbage collection paused the worker for %.0f ms", 1000 * took)


gc.callbacks.append(_watch_full_collections)


def build_sinks(s: WorkerSettings, mirror: RedisMirror) -> Sinks:
    durable: list[DurableSink] = [mirror]
    if s.event_params is not None:  # after Redis: an alert never announces what Redis does not show yet
        durable.append(EventPublisher(s.kafka_bootstrap_servers, s.kafka_security, s.market_events_topic))
    best_effort: list[BestEffortSink] = []
    if s.backend_socket_url:
        best_effort.append(Pusher(s.backend_socket_url, s.backend_socket_token, s.backend_namespace,
                                  s.processing_interval_ms / 1000, s.push_buffer_max, markets=s.market_data))
    else:
        log.warning("BACKEND_SOCKET_URL not set: candles go to Redis only, nothing is pushed")
    return Sinks(durable, best_effort)


app = faust.App(
    settings.app_id,
    Worker=Worker,
    broker=["kafka://" + s.strip() for s in settings.kafka_bootstrap_servers.split(",")],
    store=settings.store,
    datadir=settings.data_dir,
    topic_partitions=settings.topic_partitions,
    topic_replication_factor=settings.topic_replication,
    topic_allow_declare=True,
    producer_acks=-1,
    producer_linger=0.001,
    producer_max_request_size=MAX_STATE_BYTES,
    consumer_auto_offset_reset="earliest",
    stream_buffer_maxsize=4096,
    consumer_max_fetch_size=settings.fetch_partition_bytes,
    table_standby_replicas=0,
    broker_session_timeout=settings.session_timeout_s,
    broker_rebalance_timeout=settings.session_timeout_s,
    broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 4),
    web_port=settings.web_port or 6066,  # Faust refuses port 0 even with the web server off
    web_bind=settings.web_host,
    web_enabled=settings.web_port != 0,
    loghandlers=_handlers,
    autodiscover=False,
    **kafka_credentials(settings.kafka_security),
)


def _topic(name: str) -> faust.TopicT:
    # internal=True makes the worker create a missing topic with the shared partition count
    # instead of waiting for it; keys and values are bytes we encode ourselves.
    return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
                     partitions=settings.topic_partitions, internal=True)


raw_logs = _topic(settings.raw_log_topic)
dead_letters = _topic(settings.dead_letter_topic)
token_state = app.Table(
    "token-state",
    key_type=bytes, value_type=bytes,  # bytes means the raw codec: we encode state ourselves
    partitions=settings.topic_partitions,
    # Small write buffers and cache: the defaults (3x64 MiB + 2 GiB per DB) are per partition.
    # 1 MiB each took peak RSS at 100,000 tokens from 350 to 272 MB at the same speed (misses
    # are served by the OS page cache, and most reads by STATE_CACHE_SIZE before RocksDB).
    options={"write_buffer_size": 1 << 20, "max_write_buffer_number": 2, "block_cache_size": 1 << 20},
)

metrics = WorkerMetrics()
table = PartitionTable(token_state)
offsets = KafkaOffsets(settings.kafka_bootstrap_servers, settings.raw_log_topic, settings.kafka_security)
gaps = gap_recovery(app, settings.raw_log_topic, table, offsets)
mirror = RedisMirror(settings.redis_url, settings.redis_namespace, epoch_key=epoch_key(settings.redis_prefix))
sinks = build_sinks(settings, mirror)
candles = CandleAgent(
    chain_id=settings.chain_id, intervals=settings.ohlcv_intervals, table=table, acks=FaustAcks(app), gaps=gaps,
    sinks=sinks, dead_letter=DeadLetters(lambda key, value: dead_letters.send(key=key, value=value),
                                         settings.raw_log_topic),
    cache_size=settings.state_cache_size, flush_s=settings.table_flush_ms / 1000, params=settings.market_params,
    events=settings.event_params,
    retention=settings.candle_retention, metrics=metrics)
run_candle_agent(app, raw_logs, table, candles, gaps, offsets, settings.fold_batch_size, settings.fold_batch_tokens,
                 settings.fold_batch_cold_tokens)
repair = MirrorRepair(settings, mirror, gaps.assigned, lambda p: max(gaps.next_offset.get(p, -1), gaps.applied(p)),
                      lambda: recovered(app), lambda p: candles.first_next.get(p, gaps.applied(p)))


def _on_wiped() -> None:
    candles.forget_bases()
    repair.on_wiped()


mirror.on_wiped = _on_wiped


async def _ready() -> tuple[int, dict[str, Any]]:
    status, body = await worker_ready(recovered(app), candles.deep_reorgs, sinks, candles.lag, settings.ready_max_lag,
                                      repair.problems(), candles.lag_error)
    metrics.ready.set(1 if status == 200 else 0)
    return status, body


def _sink_counts() -> None:
    for sink in sinks.all:
        for name, value in sink.counts().items():
            metrics.sink.labels(sink.name, name).set(value)
    metrics.sink.labels("redis", "repair_partitions_pending").set(len(repair.pending))
    metrics.sink.labels("redis", "repair_partitions_done").set(repair.repaired)


metrics.on_scrape(_sink_counts)
register_pages(app, lambda: worker_health(recovered(app), candles.deep_reorgs, sinks), _ready, metrics.render,
               (lambda: task_dump(app, settings.raw_log_topic, gaps)) if settings.debug_endpoints else None)


@app.on_worker_init.connect  # type: ignore[arg-type]
def _create_topics(sender: faust.App, **_: object) -> None:
    changelog = f"{settings.app_id}-token-state-changelog"
    ensure_topics_blocking(settings.kafka_bootstrap_servers, settings.kafka_security,
                           [settings.raw_log_topic, settings.dead_letter_topic, changelog,
                            *([settings.market_events_topic] if settings.event_params is not None else [])],
                           settings.topic_partitions, settings.topic_replication, compacted=(changelog,),
                           forever=(settings.raw_log_topic,),
                           large=(settings.raw_log_topic, settings.dead_letter_topic))


@app.task
async def _start() -> None:
    await sinks.start()
    # Modules, Faust's services and the clients live as long as the process: out of the
    # collector's reach, a full collection walks only what processing made (60-78 ms pauses every 4 s at
    # 2000 trades/s became 10-19 ms every 10-30 s, and p99 latency 85-97 -> 62 ms).
    gc.collect()
    gc.freeze()
    # A batch allocates tens of thousands of short-lived containers (outputs, plans, script
    # arguments): with the default 700, the young collection ran every few dozen logs and
    # promoted what was merely in flight, which older collections then walked again. 50,000
    # took the pure fold-and-write path at 1,000 tokens from 199 to 152 us per log (the
    # collector from 2.5 s to 0.24 s of an 8 s run); the garbage it waits for is a few MB.
    gc.set_threshold(GC_YOUNG, 20, 100)
    log.info("%d objects from startup exempted from garbage collection", gc.get_freeze_count())


@app.timer(STATS_EVERY_S)
async def _log_stats() -> None:
    candles.stats.report()


@app.timer(REPAIR_EVERY_S)
async def _repair() -> None:
    await repair.tick()
