"""Self-repair of the Redis mirror: the worker rebuilds a wiped namespace on its own.

When the mirror notices a wipe (`mirror.redis_mirror`), or finds no epoch at start with a
table that has applied logs, every raw-log partition is marked in `{prefix}:mirror:repair`.
Every few seconds each worker rebuilds the marked partitions it owns, one at a time: it reads
the partition from its first offset up to where the worker has applied it, recomputes what
Redis held (`ops.recompute`, the checker's pure fold), writes what live processing did not
write since (`mirror.repair`), and unmarks the partition. Marks live in Redis, so a partition
that moves to another worker, or a worker that dies mid-repair, is repaired by whoever owns
it next; a mark outlives nothing but another wipe, which marks every partition again.

Meanwhile the worker goes on applying new logs, and readers get what Redis has: everything
new at once, history as its partition is rebuilt. `/ready` says 503 until no partition is
marked, and names them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from redis.exceptions import RedisError

from ..candles.output import public_trade
from ..chain.rawlog import RawLog, is_rule_record, parse_message
from ..decode.events import TradeEvent, decode_log
from ..errors import DecodeError
from ..mirror.keys import repair_key
from ..mirror.redis_mirror import CANONICAL, RECENT_TRADES, RedisMirror
from ..mirror.repair import Written, repair_ops
from ..settings import WorkerSettings
from . import kafka
from .recompute import LogSet, recompute

log = logging.getLogger(__name__)
REPAIR_EVERY_S = 3.0


def latest_trades(logs: list[RawLog], keep: int) -> dict[str, list[dict[str, Any]]]:
    """Each token's last `keep` trades, as the mirror's trade members."""
    out: dict[str, list[dict[str, Any]]] = {}
    for lg in logs:
        try:
            rec = decode_log(lg)
        except DecodeError:
            continue
        if isinstance(rec, TradeEvent):
            out.setdefault(rec.token, []).append(public_trade(rec))
    return {token: trades[-keep:] for token, trades in out.items()}


class MirrorRepair:
    def __init__(self, s: WorkerSettings, mirror: RedisMirror, assigned: Callable[[], set[int]],
                 applied: Callable[[int], int], ready: Callable[[], bool],
                 before_start: Callable[[int], int] | None = None) -> None:
        """`applied(p)`: the next offset of partition p the worker has applied and delivered;
        `before_start(p)`: the same before this process applied anything (default `applied`);
        `ready()`: the table can be read (its recovery is done)."""
        self.s, self.mirror, self.assigned, self.applied, self.ready = s, mirror, assigned, applied, ready
        self.before_start = before_start or applied
        self.key = repair_key(s.redis_prefix)
        self.pending: set[int] = set()  # every worker's, as last read
        self.mark_all = False
        self.running = False
        self.repaired = 0

    def on_wiped(self) -> None:
        self.mark_all = True

    def problems(self) -> list[str]:
        # A wipe noticed is marked by the next tick, up to REPAIR_EVERY_S later: not ready already
        # (/ready answered 200 meanwhile, with the history gone).
        pending = set(range(self.s.topic_partitions)) if self.mark_all or self.mirror.created_epoch else self.pending
        if not pending:
            return []
        return [f"redis mirror: rebuilding after a wipe, raw-log partitions {sorted(pending)} to go"]

    async def tick(self) -> None:
        """Mark what a wipe asks for; repair the marked partitions this worker owns."""
        if self.running or not self.ready():
            return
        self.running = True
        try:
            await self._tick()
        except (RedisError, OSError) as exc:
            log.error("redis mirror repair: Redis unreachable, trying again in %.0f s: %r", REPAIR_EVERY_S, exc)
        except KafkaError as exc:
            # Raised out of the timer, it crashed the worker: the partitions stay marked for the next tick.
            log.error("redis mirror repair: Kafka unreachable, trying again in %.0f s: %r", REPAIR_EVERY_S, exc)
        finally:
            self.running = False

    async def _tick(self) -> None:
        r = self.mirror.redis
        await self.mirror.check_epoch()  # an idle worker notices a wipe too
        if self.mirror.created_epoch:  # no epoch at start: the namespace was empty
            # Lost while the worker was down only if its table had applied logs before this start;
            # a new deployment (or a replay's worker) has nothing to rebuild.
            mine = self.assigned()
            if not mine:
                return  # not assigned yet: decide on a later tick
            applied_before = {p: self.before_start(p) for p in sorted(mine)}
            self.mirror.created_epoch = False
            if any(n > 0 for n in applied_before.values()):
                log.error("redis mirror: the namespace was empty at start while the table had applied logs "
                          "(%s): rebuilding it from the raw-log topic", applied_before)
                self.mark_all = True
            else:
                log.info("redis mirror: a new namespace and a new table: nothing to rebuild")
        if self.mark_all:
            epoch = self.mirror.epoch or ""
            await r.hset(self.key, mapping={str(p): epoch for p in range(self.s.topic_partitions)})
            self.mark_all = False
        self.pending = {int(p) for p in await r.hkeys(self.key)}
        if not self.pending:
            self.mirror.tracking = None  # no repair anywhere: live writes need not be recorded
            return
        for p in sorted(self.pending & self.assigned()):
            await self.repair(p)
            await r.hdel(self.key, str(p))
            self.pending.discard(p)

    def _recompute(self, values: list[bytes]) -> tuple[Any, dict[str, list[dict[str, Any]]]]:
        s = self.s
        logs = LogSet(s.chain_id)
        for value in values:
            if is_rule_record(value):
                continue
            try:
                logs.add(parse_message(value))
            except DecodeError:
                pass  # dead-lettered by the worker; the checker skips it too
        ordered = logs.ordered()
        expected = recompute(ordered, logs.finalized, s.ohlcv_intervals, s.market_params, logs.time,
                             s.candle_retention)
        return expected, latest_trades(ordered, RECENT_TRADES)

    async def repair(self, partition: int) -> None:
        end = self.applied(partition)
        started = time.monotonic()
        if end <= 0:
            log.info("redis mirror repair: raw-log partition %d has nothing applied, nothing to rebuild", partition)
            return
        if self.mirror.tracking is None:
            self.mirror.tracking = Written()
        s = self.s
        values: list[bytes] = []
        tp = TopicPartition(s.raw_log_topic, partition)
        async with kafka.consumer(s.kafka_bootstrap_servers, s.kafka_security) as c:
            async for _, value in kafka.read_all(c, [tp], {tp: end}):
                values.append(value)
        # CPU-bound: off the event loop, which goes on serving live batches.
        expected, trades = await asyncio.to_thread(self._recompute, values)
        n = len(values)
        # Made while live writes wait: what they wrote since the wipe is newer, and left alone.
        await self.mirror.apply_ops(lambda written: repair_ops(
            s.redis_prefix, expected.candles, expected.markets, trades, written, RECENT_TRADES, CANONICAL))
        self.repaired += 1
        log.warning("redis mirror repair: raw-log partition %d rebuilt from %d messages (offsets below %d): "
                    "%d candles, %d markets in %.1f s", partition, n, end, expected.candle_count,
                    len(expected.markets), time.monotonic() - started)
