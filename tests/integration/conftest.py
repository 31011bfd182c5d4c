"""Fixtures on the real stack: Kafka, Redis, anvil, the Node backend, and the bridge and Faust
worker as subprocesses with per-test topics, app id, chain id and data dirs."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis

from simulator.chain import Launchpad
from stack import node
from stack.process import ROOT, Service, spawn

from .services import kafka_bootstrap, redis_url

pytestmark = pytest.mark.integration
BACKEND_TOKEN = "integration-secret"
_chain_ids = itertools.count(41_000)


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="session")
def kafka(workdir: Path) -> Iterator[str]:
    with kafka_bootstrap(workdir) as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def redis_server(workdir: Path) -> Iterator[str]:
    with redis_url(workdir) as url:
        yield url


@pytest.fixture(scope="session")
def backend(workdir: Path) -> Iterator[Service]:
    svc = node.start_backend(workdir, token=BACKEND_TOKEN, test_endpoints=True)
    yield svc
    svc.stop()


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def get_json(url: str) -> tuple[int, dict[str, Any]]:
    """Status and body of a JSON page (/health, /ready, …); (0, {}) when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
    except OSError:
        return 0, {}


def checkpoint_block(path: Path) -> int:
    """The last block a bridge checkpoint file records; -1 while there is none to read."""
    try:
        return int(json.loads(path.read_text())["last_block"])
    except (OSError, ValueError, KeyError):
        return -1


@dataclass
class Deployment:
    """One test's isolated world: its own anvil chain, topics, app id, data dirs."""

    name: str
    dir: Path
    env: dict[str, str]
    pad: Launchpad
    anvil: Service
    redis: redis.Redis
    backend_url: str
    procs: list[Service] = field(default_factory=list)

    @property
    def chain_id(self) -> int:
        return int(self.env["CHAIN_ID"])

    def start_worker(self, name: str = "worker", **extra: str) -> Service:
        env = {**os.environ, **self.env, **extra}
        env.setdefault("DATA_DIR", str(self.dir / f"{name}-data"))
        port = extra.get("WEB_PORT") or str(_free_port())
        env["WEB_PORT"] = port
        svc = spawn(name, [sys.executable, "-m", "faust", "-A", "pads_stream", "worker", "-l", "info"],
                    self.dir / f"{name}.log", cwd=ROOT, env=env)
        svc.urls["health"] = f"http://127.0.0.1:{port}/health"
        self.procs.append(svc)
        wait_for(lambda: "[^Worker]: Ready" in svc.log_path.read_text(errors="replace") or _dead(svc), 90,
                 f"{name} ready")
        assert svc.proc.poll() is None, svc.log_tail(60)
        return svc

    def start_bridge(self, name: str = "bridge", **extra: str) -> Service:
        env = {**os.environ, **self.env, **extra}
        env.setdefault("BRIDGE_WEB_PORT", str(_free_port()))
        svc = spawn(name, [sys.executable, "-m", "bridge"], self.dir / f"{name}.log", cwd=ROOT, env=env)
        svc.urls["health"] = f"http://127.0.0.1:{env['BRIDGE_WEB_PORT']}/health"
        self.procs.append(svc)
        return svc

    def health(self, svc: Service) -> tuple[int, dict[str, Any]]:
        return get_json(svc.urls["health"])

    def redis_candles(self) -> dict[tuple[str, str], dict[int, dict[str, Any]]]:
        out: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}
        for key in self.redis.scan_iter(f"pads:{self.chain_id}:candles:*"):
            _, _, _, token, interval = key.decode().split(":")
            members = self.redis.zrange(key, 0, -1, withscores=True)
            candles: dict[int, dict[str, Any]] = {}
            for member, score in members:
                c = json.loads(member)
                assert int(score) == c["t"], f"{key!r}: score {score} != t {c['t']}"
                assert c["t"] not in candles, f"{key!r}: two members for bucket {c['t']}"
                candles[c["t"]] = c
            out[(token, interval)] = candles
        return out

    def received(self, event: str = "candle") -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.backend_url}/received?event={event}", timeout=5) as r:
            return [e["payload"] for e in json.loads(r.read()) if e["payload"].get("chain_id") == self.chain_id]

    def group(self, name: str, namespace: str) -> dict[str, str]:
        """Settings for a second, independent consumer group over the same raw-log topic."""
        return {"APP_ID": f"{self.env['APP_ID']}-{name}", "REDIS_NAMESPACE": namespace,
                "DEAD_LETTER_TOPIC": f"{self.name}.{name}.dead-letters"}

    def checksum(self, namespace: str = "pads") -> str:
        env = {**os.environ, **self.env, "REDIS_NAMESPACE": namespace}
        out = subprocess.run([sys.executable, "-m", "pads_stream", "checksum"], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        digest = out.stdout.split()[0]
        assert digest.startswith("sha256:"), out.stdout
        return digest

    def check(self, **extra: str) -> str:
        """The consistency checker's report for a group's settings (for failure messages)."""
        env = {**os.environ, **self.env, **extra}
        out = subprocess.run([sys.executable, "-m", "pads_stream", "check", "--no-progress"], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
        return out.stdout[-3000:] + out.stderr[-1000:]

    def same_state(self, namespace: str, group: dict[str, str], timeout: float = 90) -> None:
        try:
            wait_for(lambda: self.checksum(namespace) == self.checksum(), timeout,
                     f"namespace {namespace} to equal the reference")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\ncheck of {namespace}:\n{self.check(**group)}\n{self.stages(namespace)}") from None

    def stages(self, namespace: str) -> str:
        """Where data went missing: trade logs per token in the raw-log topic against trades
        per token in a namespace's Redis (which keeps the most recent 500 per token)."""
        import orjson

        from pads_stream.settings import kafka_security_of

        from .driver import read_topic

        raw: dict[str, set[tuple[int, int]]] = {}
        for k, v in read_topic(self.env["KAFKA_BOOTSTRAP_SERVERS"], self.env["RAW_LOG_TOPIC"],
                               kafka_security_of(self.env)):
            if k and not k.startswith(b"\x00"):
                d = orjson.loads(v)
                raw.setdefault(d["address"], set()).add((d["block_number"], d["log_index"]))
        in_redis = {key.decode().rsplit(":", 1)[-1]: self.redis.zcard(key)
                    for key in self.redis.scan_iter(f"{namespace}:{self.chain_id}:trades:*")}
        return (f"logs per curve in the raw-log topic: { {a: len(v) for a, v in raw.items()} }; "
                f"trades per token in {namespace}: {in_redis}")

    def stop_all(self) -> None:
        for p in reversed(self.procs):
            p.stop()


def _dead(svc: Service) -> bool:
    return svc.proc.poll() is not None


def _free_port() -> int:
    from stack.process import free_port

    return free_port()


@contextmanager
def new_deployment(name: str, dir: Path, kafka: str, redis_server: str, backend: Service) -> Iterator[Deployment]:
    """A deployment on its own anvil chain and chain id, stopped (with its processes) on exit."""
    chain_id = next(_chain_ids)
    name = f"{name}-{chain_id}"[:80]
    anvil = node.start_anvil(dir, chain_id=chain_id)
    pad = Launchpad(anvil.urls["BLOCKCHAIN_HTTP_URL"])
    factory = pad.deploy()
    env = {
        **anvil.urls,
        "BONDING_CURVE_FACTORY_ADDRESS": factory,
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "REDIS_URL": redis_server,
        "BACKEND_SOCKET_URL": backend.urls["BACKEND_SOCKET_URL"],
        "BACKEND_SOCKET_TOKEN": BACKEND_TOKEN,
        "APP_ID": f"pads-{name}",
        "RAW_LOG_TOPIC": f"{name}.chain-logs",
        "DEAD_LETTER_TOPIC": f"{name}.dead-letters",
        "BRIDGE_STATE_FILE": str(dir / "bridge-checkpoint.json"),
        "TOPIC_PARTITIONS": "4",
        "PROCESSING_INTERVAL_MS": "50",
        "BATCH_SIZE": "50",
        "BRIDGE_HEAD_TIMEOUT_S": "2",
        "FINALITY_DEPTH": "5",
        "KAFKA_SESSION_TIMEOUT_S": "8",
        "LOG_LEVEL": "INFO",
    }
    d = Deployment(name, dir, env, pad, anvil, redis.Redis.from_url(redis_server), backend.urls["BACKEND_SOCKET_URL"])
    try:
        yield d
    finally:
        d.stop_all()
        anvil.stop()
        for p in d.procs:
            if p.proc.returncode not in (0, -signal.SIGTERM, 143, -signal.SIGKILL, None):
                print(f"--- {p.name} exited {p.proc.returncode}:\n{p.log_tail(80)}")


@pytest.fixture
def deployment(request: pytest.FixtureRequest, kafka: str, redis_server: str, backend: Service,
               tmp_path: Path) -> Iterator[Deployment]:
    name = request.node.name.replace("[", "-").replace("]", "")
    with new_deployment(name, tmp_path, kafka, redis_server, backend) as d:
        yield d


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


def run_quiet(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, capture_output=True)
