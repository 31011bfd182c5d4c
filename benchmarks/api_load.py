"""Load benchmark of the read side (printed, never asserted): `python -m benchmarks.api_load`.

Starts a Redis (local process) and one `pads-stream api` process, writes one token with
`--bars` one-minute candles in the mirror's schema, then for each endpoint keeps
`--concurrency` keep-alive connections busy for `--seconds` and prints req/s and latency
percentiles:

  udf/history   /udf/history?symbol=T&resolution=1&from=..&to=..&countback=300  (300 bars)
  v1/candles    /v1/tokens/T/candles?interval=1m&countback=300                   (300 bars)
  v1/token      /v1/tokens/T                                                     (market snapshot)

The client is a minimal HTTP/1.1 client on asyncio streams, in this process: on 2 shared
cores it competes with the API and Redis for CPU, so the figures are per API process under
that contention. `--url` measures an API that is already running instead.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import orjson

TOKEN = "0x" + "5a" * 20
PRICE = "0.0000000285610627629160932059645988969"


def seed(redis_url: str, bars: int, prefix: str = "pads:31337") -> int:
    import redis

    r = redis.Redis.from_url(redis_url)
    start = 1_700_000_000 - 1_700_000_000 % 60
    pipe = r.pipeline(transaction=False)
    pipe.sadd(f"{prefix}:tokens", TOKEN)
    pipe.hset(f"{prefix}:market:{TOKEN}", mapping={
        "name": "Bench", "symbol": "BNCH", "curve": "0x" + "11" * 20, "creator": "0x" + "22" * 20,
        "created_block": "1", "created_at": str(start), "price": PRICE, "last_trade_block": str(bars),
        "last_trade_log_index": "1", "last_trade_at": str(start + bars * 60), "virtual_eth_reserves": "3" + "0" * 19,
        "virtual_token_reserves": "1" + "0" * 27, "trades": str(3 * bars), "volume_eth": "9" * 21,
        "volume_token": "9" * 27})
    key = f"{prefix}:candles:{TOKEN}:1m"
    for i in range(bars):
        t = start + i * 60
        member = {"t": t, "open": PRICE, "high": PRICE, "low": "0.000000028051258154706430568499539447" + str(i % 10),
                  "close": PRICE, "volume_token": "14016270249159435668433262", "volume_eth": "396899614839634005",
                  "trades": 3, "buys": 2, "sells": 1, "final": True}
        pipe.zadd(key, {orjson.dumps(member, option=orjson.OPT_SORT_KEYS): t})
    pipe.execute()
    return start + bars * 60


async def _worker(host: str, port: int, request: bytes, stop_at: float, lat: list[float], errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            lat.append(time.perf_counter() - t0)
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


async def load(host: str, port: int, path: str, concurrency: int, seconds: float) -> dict[str, float]:
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: keep-alive\r\n\r\n".encode()
    # warm-up: connections, script cache, code paths
    await asyncio.gather(*(_worker(host, port, request, time.perf_counter() + 0.5, [], []) for _ in range(concurrency)))
    lat: list[float] = []
    errors: list[int] = []
    t0 = time.perf_counter()
    await asyncio.gather(*(_worker(host, port, request, t0 + seconds, lat, errors) for _ in range(concurrency)))
    took = time.perf_counter() - t0
    q = statistics.quantiles(lat, n=100)
    return {"requests": len(lat), "rps": len(lat) / took, "p50_ms": q[49] * 1e3, "p99_ms": q[98] * 1e3,
            "errors": len(errors)}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to tell the API's share of the machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.api_load", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--bars", type=int, default=2000, help="one-minute candles written for the token")
    p.add_argument("--url", help="an API already running (its Redis must hold the seeded token)")
    args = p.parse_args()

    from stack import redis as local_redis
    from stack.process import ROOT, free_port, port_open, spawn, wait_until

    services = []
    api_pid: int | None = None
    try:
        if args.url:
            host, port = args.url.split("//")[-1].rstrip("/").split(":")
            api_port = int(port)
        else:
            work = Path(tempfile.mkdtemp(prefix="pads-api-bench-"))
            rsvc = local_redis.start(work / "redis")
            services.append(rsvc)
            redis_url = rsvc.urls["REDIS_URL"]
            end = seed(redis_url, args.bars)
            host, api_port = "127.0.0.1", free_port()
            env = dict(os.environ, REDIS_URL=redis_url, API_PORT=str(api_port), API_HOST=host, LOG_LEVEL="WARNING",
                       CHAIN_ID="31337", REDIS_NAMESPACE="pads")
            env.pop("API_KEYS", None)
            api = spawn("api", [sys.executable, "-m", "pads_stream", "api"], work / "api.log", cwd=ROOT, env=env)
            services.append(api)
            api_pid = api.proc.pid
            wait_until(api, lambda: port_open(api_port), 30)
            print(f"redis {redis_url}, api http://{host}:{api_port}, {args.bars} bars, logs in {work}")
        end = 1_700_000_000 - 1_700_000_000 % 60 + args.bars * 60
        history = f"/udf/history?symbol={TOKEN}&resolution=1&from={end - 86400 * 30}&to={end}&countback=300"
        with urllib.request.urlopen(f"http://{host}:{api_port}{history}") as r:
            bars = len(orjson.loads(r.read()).get("t", []))
        print(f"/udf/history answers {bars} bars; concurrency {args.concurrency}, {args.seconds:.0f} s per endpoint\n")
        print(f"{'endpoint':<14} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} "
              f"{'API CPU':>8} {'req/API-CPU-s':>14}")
        for name, path in (("udf/history", history),
                           ("v1/candles", f"/v1/tokens/{TOKEN}/candles?interval=1m&countback=300"),
                           ("v1/token", f"/v1/tokens/{TOKEN}")):
            cpu0 = cpu_seconds(api_pid) if api_pid else 0.0
            res = asyncio.run(load(host, api_port, path, args.concurrency, args.seconds))
            # the warm-up's 0.5 s is in the CPU time too: a slight underestimate of req per CPU second
            cpu = (cpu_seconds(api_pid) - cpu0) / (args.seconds + 0.5) if api_pid else float("nan")
            print(f"{name:<14} {res['requests']:>9.0f} {res['rps']:>8.0f} {res['p50_ms']:>8.2f} {res['p99_ms']:>8.2f} "
                  f"{res['errors']:>7.0f} {cpu:>7.0%} {res['rps'] / cpu if cpu else 0:>14.0f}", flush=True)
    finally:
        for s in reversed(services):
            s.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
