"""A service of the stack fails for real while trades flow: the Kafka broker stopped for 30 s, the
socket.io backend stopped for 30 s, Redis restarted empty. Each test gives the failing service to
its deployment alone (a private broker, backend or Redis: the session's are shared), ends with
Redis's candles equal to the chain's (nothing lost, nothing doubled), and checks what an
operator is shown: log lines, /health, /ready and /metrics."""

from __future__ import annotations

import random
import re
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import orjson
import redis

from pads_stream.chain.rawlog import MARKER_KEY
from simulator.chain import Curve
from stack import kafka as local_kafka
from stack import node
from stack import redis as local_redis
from stack.process import Service, free_port

from . import oracle
from .conftest import BACKEND_TOKEN, Deployment, get_json, wait_for
from .driver import drive, read_topic
from .test_market_data import check_clean
from .test_pipeline import assert_exact, latest_pushed

OUTAGE_S = 30.0


def page(svc: Service, name: str) -> str:
    """Another page of the port a worker's or bridge's `/health` is on."""
    return svc.urls["health"].rsplit("/", 1)[0] + "/" + name


def metric(svc: Service, name: str, **labels: str) -> float | None:
    """A sample of the Prometheus text at `/metrics`, by name and labels (in any order)."""
    with urllib.request.urlopen(page(svc, "metrics"), timeout=5) as r:
        text = r.read().decode()
    for line in text.splitlines():
        found = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        if found and found[1] == name and dict(re.findall(r'(\w+)="([^"]*)"', found[2] or "")) == labels:
            return float(found[3])
    return None


def logged(svc: Service, text: str, since: int = 0) -> bool:
    """Whether the service's log has `text`, after its first `since` characters."""
    return text in svc.log_path.read_text(errors="replace")[since:]


def log_size(svc: Service) -> int:
    return len(svc.log_path.read_text(errors="replace"))


class Flow:
    """Trades from a thread, `per_round` (a block or a few) every `pause_s`, until stopped or
    `limit` is reached: the chain keeps moving through an outage of any length."""

    def __init__(self, d: Deployment, curves: list[Curve], seed: int, per_round: int = 3, pause_s: float = 1.0,
                 limit: int = 200) -> None:
        self.d, self.curves, self.per_round, self.pause_s, self.limit = d, curves, per_round, pause_s, limit
        self.rng = random.Random(seed)
        self.made = 0  # at least this many trades
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            ts = int(self.d.pad.w3.eth.get_block("latest")["timestamp"])
            while not self._stop.is_set() and self.made < self.limit:
                ts = drive(self.d.pad, self.curves, self.per_round, ts, self.rng)
                self.made += self.per_round
                self._stop.wait(self.pause_s)
        except BaseException as exc:  # noqa: BLE001 - reported by stop()
            self.error = exc

    def start(self) -> Flow:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)
        assert not self._thread.is_alive(), "the trade driver did not stop"
        if self.error is not None:
            raise AssertionError(f"the trade driver failed: {self.error!r}") from self.error


class Watch:
    """Samples JSON pages every `every` s from a thread: what an operator's probes saw, and when."""

    def __init__(self, urls: dict[str, str], every: float = 0.2) -> None:
        self.urls, self.every = urls, every
        self.seen: list[tuple[float, str, int, dict[str, Any]]] = []
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, url in self.urls.items():
                status, body = get_json(url)
                self.seen.append((time.monotonic() - self.started, name, status, body))
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def saw(self, name: str, status: int, problem: str = "") -> list[tuple[float, str, int, dict[str, Any]]]:
        """Samples of `name` with that status and a problem containing `problem`."""
        return [s for s in self.seen if s[1] == name and s[2] == status
                and (not problem or any(problem in p for p in s[3].get("problems") or []))]

    def summary(self) -> str:
        """Each change of what a page answered, for the failure message and the report."""
        last: dict[str, tuple[int, list[str]]] = {}
        lines = []
        for t, name, status, body in self.seen:
            problems = list(body.get("problems") or [])
            if last.get(name) != (status, problems):
                last[name] = (status, problems)
                lines.append(f"{t:6.1f}s {name}: {status} {problems}")
        return "\n".join(lines)


def settled(d: Deployment, worker: Service) -> None:
    """Ready, once the self-repair has looked at the new namespace (a new table: nothing to rebuild)."""
    wait_for(lambda: logged(worker, "nothing to rebuild")
             and d.redis.hlen(f"pads:{d.chain_id}:mirror:repair") == 0
             and get_json(page(worker, "ready"))[0] == 200, 60, "the worker to be ready")


def curves(d: Deployment, n: int = 3) -> list[Curve]:
    return [d.pad.create_curve(f"F{i}", f"F{i}") for i in range(n)]


def test_a_kafka_outage_holds_the_bridge_and_the_worker_back_and_loses_nothing(deployment: Deployment) -> None:
    """The broker stops for 30 s while trades flow, then starts again on the same port and data.
    The bridge's idempotent producer waits for the broker and the checkpoint moves only past
    what Kafka acknowledged: every log is in the raw-log topic once. Both say so meanwhile (the
    bridge's /health, the worker's /ready), the worker resumes, candles equal the chain's."""
    d = deployment
    began = time.monotonic()
    broker = local_kafka.start(d.dir / "kafka")
    start_s = time.monotonic() - began
    d.procs.insert(0, broker)  # stopped after the bridge and the worker
    d.env["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap = broker.urls["KAFKA_BOOTSTRAP_SERVERS"]
    bridge = d.start_bridge()
    worker = d.start_worker()
    flow = Flow(d, curves(d), seed=31).start()
    wait_for(lambda: len(d.redis_candles()) >= 3, 60, "the first candles")
    settled(d, worker)
    watch = Watch({"bridge health": bridge.urls["health"], "worker health": worker.urls["health"],
                   "worker ready": page(worker, "ready")})
    broker.stop()
    down = time.monotonic()
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down)))
    # start() waits for the broker's "started" line: the first start's must not count.
    broker.log_path.rename(broker.log_path.with_suffix(".log.1"))
    began = time.monotonic()
    broker = local_kafka.start(d.dir / "kafka", port=int(bootstrap.rsplit(":", 1)[1]))
    restart_s = time.monotonic() - began
    d.procs.insert(0, broker)
    wait_for(lambda: get_json(bridge.urls["health"])[0] == 200, 60, "the bridge's /health to be 200 again")
    time.sleep(2.0)  # trades go on after the broker is back
    flow.stop()
    assert_exact(d)
    wait_for(lambda: get_json(page(worker, "ready"))[0] == 200, 30, "the worker to be ready again")
    watch.stop()
    print(f"\nbroker start {start_s:.1f} s, restart {restart_s:.1f} s, {flow.made} trades\n{watch.summary()}")

    # What the operator saw meanwhile: the bridge waiting for Kafka, the worker alive, not ready.
    assert watch.saw("bridge health", 503, "Kafka has not acknowledged"), watch.summary()
    assert watch.saw("worker ready", 503, "consumer lag unknown: Kafka"), watch.summary()
    assert not watch.saw("worker health", 503), watch.summary()
    assert logged(bridge, "bridge: Kafka has not acknowledged") and logged(bridge, "bridge: Kafka acknowledged the")
    assert logged(worker, "consumer lag unknown: Kafka") and logged(worker, "consumer lag measured again")
    assert metric(bridge, "pads_bridge_connected") == 1
    # Nothing lost or doubled on the way: each log of the chain is in the raw-log topic once.
    published = [(v["block_number"], v["log_index"]) for k, v in
                 ((k, orjson.loads(v)) for k, v in read_topic(bootstrap, d.env["RAW_LOG_TOPIC"]))
                 if k != MARKER_KEY]
    assert len(published) == len(set(published)), "a log was published twice"
    trades = oracle.chain_trades(d.pad.w3, d.env["BONDING_CURVE_FACTORY_ADDRESS"])
    assert {(t.block, t.log_index) for t in trades} <= set(published)
    assert bridge.proc.poll() is None and worker.proc.poll() is None


def test_a_backend_outage_turns_health_red_and_candles_stay_exact(deployment: Deployment) -> None:
    """The socket.io backend stops for 30 s while trades flow. The push is best effort: Redis is
    exact with the backend still away. /health answers 503 naming the listener until the worker
    reconnects (its backoff is at most 10 s), then the pushes go on, what the outage held back
    included, and nothing was dropped."""
    d = deployment
    port = free_port()
    backend = node.start_backend(d.dir / "backend", token=BACKEND_TOKEN, port=port, test_endpoints=True)
    d.procs.insert(0, backend)
    d.env["BACKEND_SOCKET_URL"] = d.backend_url = backend.urls["BACKEND_SOCKET_URL"]
    made = curves(d)
    d.start_bridge()
    worker = d.start_worker()
    wait_for(lambda: d.health(worker)[0] == 200, 30, "the worker to be healthy")
    flow = Flow(d, made, seed=37).start()
    wait_for(lambda: d.received("candle"), 60, "the first pushed candles")
    watch = Watch({"worker health": worker.urls["health"]})
    backend.stop()
    down = time.monotonic()
    status, body = wait_for(lambda: (lambda r: r if r[0] == 503 else None)(d.health(worker)), 15,
                            "/health to turn 503")
    assert [p for p in body["problems"] if p.startswith("socket.io listener not connected: ")], body
    assert body["push"]["connected"] is False
    time.sleep(max(0.0, OUTAGE_S / 2 - (time.monotonic() - down)))
    flow.stop()
    # Exact with the backend still away: the push never holds the durable path back.
    assert_exact(d, timeout=60)
    status, body = d.health(worker)
    assert status == 503 and body["push"]["queued"] > 0, body  # kept for the reconnect
    assert metric(worker, "pads_sink", sink="push", count="connected") == 0
    queued = body["push"]["queued"]
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down)))
    backend = node.start_backend(d.dir / "backend", token=BACKEND_TOKEN, port=port, test_endpoints=True)
    d.procs.insert(0, backend)
    back = time.monotonic()
    wait_for(lambda: d.health(worker)[0] == 200, 30, "the worker to reconnect (/health 200)")
    reconnect_s = time.monotonic() - back
    # What the outage held back reaches the new backend, which has seen nothing else yet.
    wait_for(lambda: d.received("candle"), 30, "candles pushed to the restarted backend")
    flow = Flow(d, made, seed=38, limit=15).start()
    time.sleep(3.0)
    flow.stop()
    expected = assert_exact(d)
    # Every candle the restarted backend received ends as Redis has it.
    wait_for(lambda: all(expected.get(k, {}).get(t) == c for k, series in latest_pushed(d.received("candle")).items()
                         for t, c in series.items()), 30, "the pushed candles to end as Redis's")
    watch.stop()
    assert watch.saw("worker health", 503, "socket.io listener not connected"), watch.summary()
    assert metric(worker, "pads_sink", sink="push", count="connected") == 1
    assert metric(worker, "pads_sink", sink="push", count="dropped") == 0
    assert logged(worker, "socket.io listener disconnected from") and logged(worker, "socket.io connect to")
    print(f"\nreconnected {reconnect_s:.1f} s after the restart, {queued} messages queued during the outage, "
          f"{len(oracle.chain_trades(d.pad.w3, d.env['BONDING_CURVE_FACTORY_ADDRESS']))} trades\n{watch.summary()}")


def test_redis_restarted_empty_is_noticed_and_rebuilt_without_an_operator(deployment: Deployment) -> None:
    """Redis without persistence stops while trades flow and starts again empty on its port. The
    worker retries its writes meanwhile (/health 503: Redis unreachable); the first write to the
    new Redis notices the missing epoch key, /ready answers 503 while the raw-log partitions are
    rebuilt, and the end is exact: candles equal the chain's, and every market field and ranking
    equals the checker's recomputation."""
    d = deployment
    own = local_redis.start(d.dir / "redis")
    d.procs.insert(0, own)
    d.env["REDIS_URL"] = url = own.urls["REDIS_URL"]
    d.redis = redis.Redis.from_url(url)
    d.env.update(MARKET_DATA="1")
    d.start_bridge()
    worker = d.start_worker()
    flow = Flow(d, curves(d), seed=41, per_round=6, pause_s=0.5, limit=150).start()
    wait_for(lambda: flow.made >= 50, 60, "trades before the restart")
    settled(d, worker)
    rebuilt = metric(worker, "pads_sink", sink="redis", count="repair_partitions_done") or 0
    # Often: /ready is 503 from the write that notices the wipe to the end of the rebuild, which
    # can be as short as the rebuild (tens of ms for a few hundred logs).
    watch = Watch({"worker health": worker.urls["health"], "worker ready": page(worker, "ready")}, every=0.01)
    own.stop()
    wait_for(lambda: "redis unreachable" in d.health(worker)[1].get("problems", []), 30, "health to report Redis down")
    wait_for(lambda: logged(worker, "redis mirror write of"), 30, "a failed write to be logged")
    time.sleep(2.0)  # trades go on arriving while Redis is away
    since = log_size(worker)
    d.procs.insert(0, local_redis.start(d.dir / "redis", port=int(url.rsplit(":", 1)[1].split("/")[0])))
    wait_for(lambda: logged(worker, "no longer holds", since), 30, "the worker to notice the empty Redis")
    wait_for(lambda: logged(worker, "redis mirror repair: raw-log partition", since), 60, "a rebuild")
    wait_for(lambda: flow.made >= 100, 60, "trades after the restart")
    flow.stop()
    wait_for(lambda: d.redis.hlen(f"pads:{d.chain_id}:mirror:repair") == 0
             and get_json(page(worker, "ready"))[0] == 200, 90, "the rebuild to finish and the worker to be ready")
    assert_exact(d)
    assert check_clean(d), d.check()
    watch.stop()
    assert watch.saw("worker health", 503, "redis unreachable"), watch.summary()
    assert watch.saw("worker ready", 503, "redis mirror: rebuilding after a wipe"), watch.summary()
    assert not watch.saw("worker health", 503, "rebuilding"), watch.summary()  # alive meanwhile
    assert logged(worker, "raw-log partition 3 rebuilt from", since)
    assert metric(worker, "pads_sink", sink="redis", count="wipes_noticed") == 1
    assert metric(worker, "pads_sink", sink="redis", count="repair_partitions_done") == rebuilt + 4
    assert metric(worker, "pads_sink", sink="redis", count="repair_partitions_pending") == 0
    assert (metric(worker, "pads_sink", sink="redis", count="write_errors") or 0) > 0
    print(f"\n{len(oracle.chain_trades(d.pad.w3, d.env['BONDING_CURVE_FACTORY_ADDRESS']))} trades\n{watch.summary()}")
