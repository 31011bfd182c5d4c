"""`python -m benchmarks`: the benchmark suite on a local stack; prints a table.

    python -m benchmarks        # 20k trades; 10 and 100k tokens; 1 and 2 workers; latency at 1k, 2k, 5k/s
    python -m benchmarks --trades 2000 --tokens 10 --workers 1 --latency 100 --latency-seconds 3   # CI smoke
    python -m benchmarks --trades 200000 --tokens 1000 --rules 10000 --workers 1 --latency "" --no-baseline
    python -m benchmarks --tokens "" --latency "" --webhook-latency 500   # trade produced -> alert webhook received
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

from pads_stream.candles.intervals import label
from pads_stream.settings import WorkerSettings, kafka_security_of
from stack import kafka, node, redis

from .latency import Latency, describe
from .run import PARTITIONS, Result, bench_env, measure, measure_baseline, measure_latency, preload
from .webhook import WebhookLatency, measure_webhook_latency
from .webhook import describe as describe_webhook
from .workload import Workload


def table(rows: list[Result]) -> str:
    head = f"{'engine':<6} {'workers':>7} {'tokens':>7} {'trades':>7} {'seconds':>8} {'trades/s':>9} {'steady/s':>9} " \
           f"{'peak RSS MB':>11} {'CPU s/1k trades':>15}  check"
    lines = [head, "-" * len(head)]
    for r in rows:
        mark = "*" if r.from_start else " "
        steady = "-" if r.steady is None else f"{r.steady:.0f}"
        lines.append(f"{r.engine:<6} {r.workers:>7} {r.tokens:>7} {r.trades:>7} {r.seconds:>7.1f}{mark} {r.rate:>9.0f} "
                     f"{steady:>9} {r.peak_rss_mb:>11.0f} {1000 * r.cpu_s / r.trades:>15.2f}  {r.differences}")
    if any(r.from_start for r in rows):
        lines.append("* finished before a poll saw progress: timed from the worker's start, start-up included")
    if any(r.steady is not None for r in rows):
        lines.append("steady/s: from commit to commit while busy, not quantized by the commit interval (see benchmarks/run.py)")
    for q in (r for r in rows if r.engine == "quix"):
        ours = next((r for r in rows if r.engine == "pads" and r.workers == 1 and r.tokens == q.tokens), None)
        if ours and q.rate and ours.cpu_s:
            lines.append(f"pads/quix at {q.tokens} tokens, 1 worker each: {ours.rate / q.rate:.2f}x trades/s, "
                         f"{ours.peak_rss_mb / q.peak_rss_mb:.2f}x peak RSS, "
                         f"{(ours.cpu_s / ours.trades) / (q.cpu_s / q.trades):.2f}x CPU per trade")
    return "\n".join(lines)


def passed(r: Result) -> bool:
    return r.differences.startswith("0 ") if r.engine == "pads" else r.differences.endswith(" candles equal")


def features() -> str:
    """What the workers did: the worker's settings from the environment they inherit."""
    s = WorkerSettings()
    intervals = ",".join(label(i) for i in s.ohlcv_intervals)
    retention = ",".join(f"{label(i)}={label(d)}" for i, d in sorted(s.candle_retention.items())) or "none"
    extra = f"market data, retention {retention}" if s.market_data else "no market data"
    return (f"intervals {intervals}, {extra}, Redis, socket.io push to the reference backend, "
            "reorg bookkeeping")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trades", type=int, default=20_000)
    p.add_argument("--tokens", default="10,100000", help="comma-separated token counts (empty: no throughput runs)")
    p.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    p.add_argument("--timeout", type=float, default=1800)
    p.add_argument("--latency", default="1000,2000,5000",
                   help="offered trades/s for the latency runs (empty: none)")
    p.add_argument("--no-baseline", dest="baseline", action="store_false",
                   help="skip the Quix Streams baseline (run after each 1-worker run, on the same topic)")
    p.add_argument("--latency-tokens", type=int, default=100)
    p.add_argument("--latency-seconds", type=int, default=20)
    p.add_argument("--rules", type=int, default=0,
                   help="alert rules published before the trades (they fire only with MARKET_DATA=1)")
    p.add_argument("--rules-fire", choices=("often", "rarely"), default="often",
                   help="often: about one alert per trade (thresholds inside the workload's prices and sizes); "
                        "rarely: thresholds at their edges, the cost of evaluating rules")
    p.add_argument("--webhook-latency", default="",
                   help="offered trades/s for the webhook latency runs: worker and notifier, one large_trade "
                        "rule that every trade fires (empty: none)")
    p.add_argument("--keep", action="store_true", help="keep the logs and data of a passing run too")
    args = p.parse_args()
    if args.rules and args.baseline and args.tokens:
        p.error("--rules needs --no-baseline: the Quix baseline reads no rule records")
    workdir = Path(tempfile.mkdtemp(prefix="pads-bench-"))
    services = [kafka.start(workdir / "kafka", partitions=PARTITIONS), redis.start(workdir / "redis")]
    backend = node.start_backend(workdir, token="bench", test_endpoints=True)
    services.append(backend)
    base: dict[str, str] = {}
    for s in services:
        base.update(s.urls)
    rows: list[Result] = []
    latencies: list[Latency] = []
    hooks: list[WebhookLatency] = []
    ok = False
    try:
        for rate in (int(r) for r in args.latency.split(",") if r):
            env = bench_env(base)
            print(f"latency at {rate} trades/s offered for {args.latency_seconds}s...", file=sys.stderr, flush=True)
            latencies.append(measure_latency(env, args.latency_tokens, rate, args.latency_seconds,
                                             workdir / env["APP_ID"], backend.urls["BACKEND_SOCKET_URL"],
                                             args.timeout))
            print(describe(latencies), file=sys.stderr, flush=True)
        for rate in (int(r) for r in args.webhook_latency.split(",") if r):
            env = bench_env(base)
            print(f"webhook latency at {rate} trades/s offered for {args.latency_seconds}s...", file=sys.stderr,
                  flush=True)
            hooks.append(measure_webhook_latency(env, args.latency_tokens, rate, args.latency_seconds,
                                                 workdir / env["APP_ID"], args.timeout, PARTITIONS))
            print(describe_webhook(hooks), file=sys.stderr, flush=True)
        for tokens in (int(t) for t in args.tokens.split(",") if t):
            for workers in (int(n) for n in args.workers.split(",")):
                w = Workload(trades=args.trades, tokens=tokens, rules=args.rules, rules_fire=args.rules_fire)
                env = bench_env(base)
                loaded, rules_end = asyncio.run(preload(env["KAFKA_BOOTSTRAP_SERVERS"], kafka_security_of(env),
                                                        env["RAW_LOG_TOPIC"], w))
                print(f"preloaded {w.trades} trades over {tokens} tokens in {loaded:.1f}s; running {workers} "
                      f"worker(s)...", file=sys.stderr, flush=True)
                rows.append(measure(env, w, workers, workdir / env["APP_ID"], args.timeout, rules_end))
                print(table(rows), file=sys.stderr, flush=True)
                if workers == 1 and args.baseline:
                    print("running the Quix Streams baseline on the same topic...", file=sys.stderr, flush=True)
                    rows.append(measure_baseline(env, w, workdir / env["APP_ID"], args.timeout))
                    print(table(rows), file=sys.stderr, flush=True)
        ok = all(passed(r) for r in rows) and all(len(h.ms) == h.trades and not h.duplicates for h in hooks)
    finally:
        for s in reversed(services):
            s.stop()
        # The broker's logs and changelogs of a full run take gigabytes: kept only to debug a failure.
        if ok and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"logs and data kept in {workdir}", file=sys.stderr)
    print(f"machine: {platform.machine()}, {platform.python_version()}, "
          f"{len(__import__('os').sched_getaffinity(0))} cores; {PARTITIONS} partitions; {features()}")
    if args.rules:
        print(f"{args.rules} alert rules ({args.rules_fire} firing) before the trades, "
              f"MARKET_DATA={os.environ.get('MARKET_DATA', 'unset')}")
    print(table(rows))
    if hooks:
        print("\nwebhook latency, 1 worker + notifier: trade produced -> its alert's webhook received")
        print(describe_webhook(hooks))
    if latencies:
        print("\nlatency, 1 worker: log produced -> trade visible in Redis / push received by the backend")
        print(describe(latencies))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
