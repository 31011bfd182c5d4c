"""Runs workers over a preloaded raw-log topic until it is fully committed and measures them.

Throughput counts trades from the worker's first committed progress to the moment the
raw-log topic is fully committed: both engines commit a log only once Redis has what it
changed (ours acks it after the Redis write; Quix flushes its sink before a checkpoint).
Both engines commit every few seconds (Faust every 2.8 s), so that clock is quantized: a
60-second run is off by up to about 5 %. The steady rate is exact to the 0.2 s poll: the
logs committed between the first commit seen and the last one before the final commit (both
made while the worker was busy) over the time between them, in trades (the share of trades
among the timed logs). Memory is the peak RSS (VmHWM), CPU is user+system time.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from pads_stream.alerts.rules import RULE_KEY
from pads_stream.chain.rawlog import MARKER_KEY
from pads_stream.kafka_security import KafkaSecurity
from pads_stream.ops import kafka
from pads_stream.settings import kafka_security_of
from pads_stream.topics import ensure_topics
from stack.process import ROOT, free_port

from .baseline import runner as baseline
from .latency import Latency, offered, pushed, reset_backend, send_all, split, summarize
from .workload import Workload, messages

PARTITIONS = 8


@dataclass
class Result:
    workers: int
    tokens: int
    trades: int
    seconds: float
    peak_rss_mb: float
    cpu_s: float
    differences: str
    from_start: bool = False  # timed from the worker's start (a run too short to see progress)
    engine: str = "pads"
    steady: float | None = None  # trades/s from commit to commit (see the module doc); None: too few commits

    @property
    def rate(self) -> float:
        return self.trades / self.seconds if self.seconds else 0.0


async def preload(bootstrap: str, security: KafkaSecurity, topic: str, w: Workload) -> tuple[float, dict[int, int]]:
    """(seconds, per partition the offset after the last rule record: where the trades' timing starts)."""
    await ensure_topics(bootstrap, security, [topic], PARTITIONS, 1)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=1 << 20,
                                **security.aiokafka_kwargs())
    await producer.start()
    started = time.monotonic()
    try:
        futures = []
        last_rule: dict[int, Any] = {}
        for key, value in messages(w):
            if key in (MARKER_KEY, RULE_KEY):
                for p in range(PARTITIONS):
                    futures.append(await producer.send(topic, value, key=key, partition=p))
                    if key == RULE_KEY:
                        last_rule[p] = futures[-1]
            else:
                futures.append(await producer.send(topic, value, key=key))
            if len(futures) >= 5000:
                await asyncio.gather(*futures)
                futures.clear()
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return time.monotonic() - started, {p: f.result().offset + 1 for p, f in last_rule.items()}


def _proc_stats(pid: int) -> tuple[float, float]:
    """(peak RSS MiB, CPU seconds) of a live process, from /proc."""
    hwm = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) / 1024
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return hwm, (int(fields[11]) + int(fields[12])) / ticks


@dataclass
class Progress:
    first: float  # when the timing starts; negative: the worker's start (see `Result.from_start`)
    done: float
    stats: dict[int, tuple[float, float]]  # pid -> `_proc_stats`
    commits: list[tuple[float, int]]  # (when a poll saw it, logs committed past the start), from `first` on
    timed: int  # logs from the start to the end of the topic


def steady_rate(p: Progress, trades: int) -> float | None:
    """Trades/s between the first commit seen and the last one before the final commit (which
    may follow seconds of idling): both were made while the worker was busy."""
    if len(p.commits) < 3 or not p.timed:
        return None
    (t0, n0), (t1, n1) = p.commits[0], p.commits[-2]
    return (n1 - n0) * trades / p.timed / (t1 - t0) if t1 > t0 else None


async def _until_caught_up(env: dict[str, str], procs: list[subprocess.Popen[bytes]], workdir: Path,
                           timeout_s: float, start_after: dict[int, int] | None = None) -> Progress:
    bootstrap, app_id = env["KAFKA_BOOTSTRAP_SERVERS"], env["APP_ID"]
    raw = [TopicPartition(env["RAW_LOG_TOPIC"], p) for p in range(PARTITIONS)]
    first: float | None = None
    started = time.monotonic()
    stats: dict[int, tuple[float, float]] = {}
    deadline = started + timeout_s
    security = kafka_security_of(env)
    async with kafka.consumer(bootstrap, security) as c:
        end = await c.end_offsets(raw)
    start = sum((start_after or {}).get(tp.partition, 0) for tp in raw)
    timed = sum(end.values()) - start
    commits: list[tuple[float, int]] = []
    async with kafka.admin(bootstrap, security) as client:
        while True:
            for p in procs:
                if p.poll() is not None:
                    raise RuntimeError(f"a worker exited with {p.returncode}; see {workdir}")
                stats[p.pid] = _proc_stats(p.pid)
            try:
                committed = await kafka.committed(client, app_id, raw)
            except KafkaError as exc:
                if not exc.retriable:
                    raise
                await asyncio.sleep(0.5)  # e.g. the group coordinator of a fresh broker is not up yet
                continue
            if first is None and (all(committed[tp] >= start_after[tp.partition] for tp in raw) if start_after
                                  else any(committed[tp] > 0 for tp in raw)):
                first = time.monotonic()
            total = sum(max(committed[tp], 0) for tp in raw) - start
            if first is not None and (not commits or total != commits[-1][1]):
                commits.append((time.monotonic(), total))
            if all(committed[tp] >= end[tp] for tp in raw):
                done = time.monotonic()
                if first is None or done - first < 1.0:
                    # Finished before a poll saw it running: time it from the worker's start
                    # instead (includes start-up, so it understates the speed; marked with *).
                    return Progress(-started, done, stats, [], timed)
                return Progress(first, done, stats, commits, timed)
            if time.monotonic() > deadline:
                raise RuntimeError(f"not caught up after {timeout_s:.0f}s; see {workdir}")
            await asyncio.sleep(0.2)


def start_workers(env: dict[str, str], workers: int, workdir: Path) -> list[subprocess.Popen[bytes]]:
    workdir.mkdir(parents=True, exist_ok=True)
    procs = []
    for i in range(workers):
        wenv = {**env, "DATA_DIR": str(workdir / f"data-{i}"), "WEB_PORT": str(free_port())}
        with open(workdir / f"worker-{i}.log", "wb") as log:
            procs.append(subprocess.Popen([sys.executable, "-m", "faust", "-A", "pads_stream", "worker", "-l", "info"],
                                          cwd=ROOT, env=wenv, stdout=log, stderr=subprocess.STDOUT))
    return procs


def stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(30)


def measure_latency(env: dict[str, str], tokens: int, rate: int, seconds: int, workdir: Path,
                    backend_url: str, timeout_s: float) -> Latency:
    """One worker; creation logs applied first, then `rate` trades/s for `seconds`."""
    w = Workload(trades=rate * seconds, tokens=tokens, logs_per_block=max(rate, 1))  # a block a second
    setup, timed = split(w)
    bootstrap, topic = env["KAFKA_BOOTSTRAP_SERVERS"], env["RAW_LOG_TOPIC"]
    asyncio.run(ensure_topics(bootstrap, kafka_security_of(env), [topic], PARTITIONS, 1))
    asyncio.run(send_all(bootstrap, kafka_security_of(env), topic, PARTITIONS, setup))
    procs = start_workers(env, 1, workdir)
    try:
        asyncio.run(_until_caught_up(env, procs, workdir, timeout_s))
        reset_backend(backend_url)
        sent, seen = asyncio.run(offered(env, PARTITIONS, timed, rate, w.chain_id))
        time.sleep(1.0)  # the last push flush
        return summarize(rate, tokens, sent, seen, pushed(backend_url, w.chain_id))
    finally:
        stop_workers(procs)


def measure(env: dict[str, str], w: Workload, workers: int, workdir: Path, timeout_s: float,
            start_after: dict[int, int] | None = None) -> Result:
    """`start_after`: time from when every partition is committed past these offsets (the rule
    records, which 10,000 rules make 80,000 of: setup, not trades)."""
    procs = start_workers(env, workers, workdir)
    try:
        p = asyncio.run(_until_caught_up(env, procs, workdir, timeout_s, start_after or {}))
    finally:
        stop_workers(procs)
    check = subprocess.run([sys.executable, "-m", "pads_stream", "check", "--no-progress"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=600)
    summary = (check.stdout.strip().splitlines() or ["?"])[-1]
    (workdir / "check.txt").write_text(check.stdout + check.stderr)  # kept with the run's logs when it fails
    differences = summary.split(":")[-1].strip() if "differences" in summary else summary
    return Result(workers, w.tokens, w.trades, p.done - abs(p.first), max(s[0] for s in p.stats.values()),
                  sum(s[1] for s in p.stats.values()), differences, from_start=p.first < 0,
                  steady=steady_rate(p, w.trades))


def measure_baseline(env: dict[str, str], w: Workload, workdir: Path, timeout_s: float) -> Result:
    """The Quix Streams app on the same topic, then its candles against ours in Redis."""
    qenv = baseline.quix_env(env, workdir)
    procs = [baseline.start(qenv, workdir)]
    try:
        p = asyncio.run(_until_caught_up(qenv, procs, workdir, timeout_s))
    finally:
        stop_workers(procs)
    same = baseline.compare(env["REDIS_URL"], env["REDIS_NAMESPACE"], qenv["REDIS_NAMESPACE"])
    return Result(1, w.tokens, w.trades, p.done - abs(p.first), max(s[0] for s in p.stats.values()),
                  sum(s[1] for s in p.stats.values()), same, from_start=p.first < 0, engine="quix",
                  steady=steady_rate(p, w.trades))


def bench_env(base: dict[str, str]) -> dict[str, str]:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    return {**os.environ, **base, "APP_ID": name, "RAW_LOG_TOPIC": f"{name}.chain-logs",
            "DEAD_LETTER_TOPIC": f"{name}.dead-letters", "MARKET_EVENTS_TOPIC": f"{name}.market-events",
            "ALERT_RULES_TOPIC": f"{name}.alert-rules", "REDIS_NAMESPACE": name, "CHAIN_ID": "31337",
            "TOPIC_PARTITIONS": str(PARTITIONS), "LOG_LEVEL": "INFO"}
