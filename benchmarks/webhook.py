"""Webhook latency at a fixed offered load: from a trade's log produced to its alert's webhook
received, through the worker (rule evaluation, the events sink) and the notifier.

One `large_trade` rule for every token, with a threshold below every workload trade, so each
trade fires one alert; its webhook is an HTTP receiver in this process (its own thread, so the
producer's pacing does not delay a time stamp). Trades are produced as in `latency.py`, each
stamped just before its send; an alert names its trade by (token, block_number, log_index).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson

from pads_stream.alerts.rules import parse_rule
from pads_stream.alerts.store import RuleStore
from pads_stream.settings import kafka_security_of
from pads_stream.topics import ensure_rule_topics
from stack.process import ROOT, free_port

from .latency import Ident, Latency, produce, send_all, split
from .run import _until_caught_up, start_workers, stop_workers
from .workload import Workload

SECRET = "bench-webhook-secret"


@dataclass
class WebhookLatency:
    rate: int
    trades: int
    ms: list[float]
    duplicates: int

    def row(self) -> str:
        p = Latency.pct
        return (f"{self.rate:>7} {self.trades:>7} {len(self.ms):>7} {self.duplicates:>5} {p(self.ms, .5):>8.1f} "
                f"{p(self.ms, .99):>8.1f} {max(self.ms, default=float('nan')):>8.1f}")


HEADER = f"{'offered':>7} {'trades':>7} {'alerts':>7} {'dups':>5} {'hook50':>8} {'hook99':>8} {'hookMax':>8}  (ms)"


class Receiver:
    """Answers 204 to every POST and stamps the first arrival of each trade's alert."""

    def __init__(self) -> None:
        self.seen: dict[Ident, float] = {}
        self.duplicates = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: the notifier reuses its connections

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                at = time.time()
                ev = orjson.loads(body)
                if ev["type"] == "alert":
                    ident = (ev["token"], ev["block_number"], ev["log_index"])
                    if ident in receiver.seen:
                        receiver.duplicates += 1
                    receiver.seen.setdefault(ident, at)
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def add_rule(env: dict[str, str], url: str, partitions: int) -> None:
    bootstrap, security = env["KAFKA_BOOTSTRAP_SERVERS"], kafka_security_of(env)
    await ensure_rule_topics(bootstrap, security, env["RAW_LOG_TOPIC"], env["ALERT_RULES_TOPIC"], partitions, 1)
    rule = parse_rule({"type": "large_trade", "value": "0.0001", "webhook": {"url": url, "secret": SECRET}},
                      owner="bench", rule_id="r_benchwebhook", created_at=int(time.time()), windows=(300,))
    async with RuleStore(bootstrap, security, env["ALERT_RULES_TOPIC"], raw_log_topic=env["RAW_LOG_TOPIC"],
                         chain_id=int(env["CHAIN_ID"])) as store:
        await store.put(rule)


def start_notifier(env: dict[str, str], workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    with open(workdir / "notify.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "pads_stream", "notify"], cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT, env={**env, "NOTIFY_PORT": str(port)})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the notifier exited with {proc.returncode}; see {workdir / 'notify.log'}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
                if resp.status == 200:
                    return proc, port
        except OSError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"the notifier was not healthy within 60 s; see {workdir / 'notify.log'}")


def measure_webhook_latency(env: dict[str, str], tokens: int, rate: int, seconds: int, workdir: Path,
                            timeout_s: float, partitions: int) -> WebhookLatency:
    """One worker (market data and events on) and one notifier; `rate` trades/s for `seconds`."""
    env = {**env, "MARKET_DATA": "1", "NOTIFY_GROUP": f"{env['APP_ID']}-notify"}
    w = Workload(trades=rate * seconds, tokens=tokens, logs_per_block=max(rate, 1))
    setup, timed = split(w)
    receiver = Receiver()
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        asyncio.run(add_rule(env, receiver.url, partitions))  # before the logs: it applies to what follows
        asyncio.run(send_all(env["KAFKA_BOOTSTRAP_SERVERS"], kafka_security_of(env), env["RAW_LOG_TOPIC"],
                             partitions, setup))
        procs = start_workers(env, 1, workdir)
        notifier = None
        try:
            asyncio.run(_until_caught_up(env, procs, workdir, timeout_s))
            notifier, _ = start_notifier(env, workdir)
            sent = asyncio.run(produce(env["KAFKA_BOOTSTRAP_SERVERS"], kafka_security_of(env), env["RAW_LOG_TOPIC"],
                                       partitions, timed, rate))
            deadline = time.monotonic() + 30
            while len(receiver.seen) < len(sent) and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            if notifier is not None:
                notifier.terminate()
                notifier.wait(30)
            stop_workers(procs)
    finally:
        receiver.close()
    ms = [1000 * (receiver.seen[i] - t) for i, t in sent.items() if i in receiver.seen]
    return WebhookLatency(rate, len(sent), ms, receiver.duplicates)


def describe(results: list[WebhookLatency]) -> str:
    return "\n".join([HEADER, "-" * len(HEADER)] + [r.row() for r in results])
