"""The webhook notifier on a real Kafka and Redis, delivering to real HTTP receivers: signed
deliveries, retries with the same id, no second delivery after a redelivery, a restart or a
replay, a dead endpoint that does not hold back a healthy one, and dead letters."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import signal
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import pytest
import redis

from stack.process import ROOT, Service, free_port, spawn

from .conftest import get_json, wait_for
from .driver import produce, read_topic

_ids = itertools.count(1)
_chains = itertools.count(51_000)
SECRET = "whsec_integration"


@dataclass
class Receiver:
    """An HTTP endpoint on its own port: `fail` first requests get 500, every request waits
    `delay` seconds, and `status` answers the rest."""

    fail: int = 0
    delay: float = 0.0
    status: int = 200
    got: list[tuple[float, dict[str, str], bytes]] = field(default_factory=list)
    seen: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def accepted(self) -> list[tuple[float, dict[str, str], bytes]]:
        with self.lock:
            return list(self.got)

    def start(self) -> Receiver:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.lock:
                    outer.seen += 1
                    n = outer.seen
                time.sleep(outer.delay)
                code = 500 if n <= outer.fail else outer.status
                if 200 <= code < 300:
                    with outer.lock:
                        outer.got.append((time.time(), dict(self.headers.items()), body))
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@dataclass
class Notifier:
    env: dict[str, str]
    dir: Path
    proc: Service | None = None

    @property
    def bootstrap(self) -> str:
        return self.env["KAFKA_BOOTSTRAP_SERVERS"]

    def start(self) -> Service:
        port = free_port()
        self.env["NOTIFY_PORT"] = str(port)
        svc = spawn("notify", [sys.executable, "-m", "pads_stream", "notify"], self.dir / "notify.log", cwd=ROOT,
                    env={**os.environ, **self.env})
        self.proc = svc
        wait_for(lambda: get_json(f"http://127.0.0.1:{port}/health")[0] == 200 or svc.proc.poll() is not None,
                 90, "the notifier's /health")
        assert svc.proc.poll() is None, svc.log_tail(60)
        return svc

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.proc.pid, signal.SIGKILL)
        self.proc.proc.wait(10)

    def health(self) -> dict[str, object]:
        return get_json(f"http://127.0.0.1:{self.env['NOTIFY_PORT']}/health")[1]

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.env['NOTIFY_PORT']}/metrics", timeout=5) as r:
            return str(r.read().decode())

    def rule(self, url: str | None, secret: str = SECRET) -> str:
        rule_id = f"r_{next(_ids)}"
        body: dict[str, object] = {"id": rule_id, "owner": "alice", "type": "large_trade", "value": "1"}
        if url is not None:
            body["webhook"] = {"url": url, "secret": secret}
        produce(self.bootstrap, self.env["ALERT_RULES_TOPIC"], [(rule_id.encode(), orjson.dumps(body))])
        return rule_id

    def alert(self, rule_id: str, kind: str = "alert", event_id: str | None = None) -> tuple[str, bytes]:
        event_id = event_id or hashlib.sha256(f"{rule_id}|{next(_ids)}".encode()).hexdigest()[:32]
        token = "0x" + "ab" * 20
        data: dict[str, object] = {"rule_id": rule_id, "owner": "alice", "rule_type": "large_trade", "value": "1",
                                   "observed": "2.5"}
        if kind == "alert_retracted":
            data["retracts"] = "c" * 32
        value = orjson.dumps({"id": event_id, "ref": event_id[::-1], "type": kind,
                              "chain_id": int(self.env["CHAIN_ID"]), "token": token, "final": False,
                              "block_number": 7, "block_hash": "0x" + "11" * 32, "log_index": 1,
                              "tx_hash": "0x" + "22" * 32, "block_timestamp": 1_732_442_523, "data": data})
        return event_id, self.send(token.encode(), value)

    def send(self, key: bytes, value: bytes) -> bytes:
        produce(self.bootstrap, self.env["MARKET_EVENTS_TOPIC"], [(key, value)])
        return value

    def count(self, name: str) -> int:
        return int(self.health().get(name, -1))  # type: ignore[call-overload]


@pytest.fixture
def notifier(request: pytest.FixtureRequest, kafka: str, redis_server: str, tmp_path: Path) -> Iterator[Notifier]:
    name = f"notify-{request.node.name[:40]}-{next(_chains)}"
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka, "REDIS_URL": redis_server, "CHAIN_ID": name.rsplit("-", 1)[1],
           "MARKET_EVENTS_TOPIC": f"{name}.market-events", "ALERT_RULES_TOPIC": f"{name}.alert-rules",
           "DEAD_LETTER_TOPIC": f"{name}.dead-letters", "NOTIFY_GROUP": f"{name}-notify", "TOPIC_PARTITIONS": "2",
           "WEBHOOK_TIMEOUT_MS": "500", "WEBHOOK_RETRY_BASE_MS": "100", "WEBHOOK_RETRY_CAP_MS": "300",
           "WEBHOOK_RETRY_FOR": "120s", "WEBHOOK_CONCURRENCY": "2", "WEBHOOK_QUEUE": "4", "LOG_LEVEL": "INFO",
           "KAFKA_SESSION_TIMEOUT_S": "8"}
    n = Notifier(env, tmp_path)
    yield n
    if n.proc is not None:
        n.proc.stop()


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    made: list[Receiver] = []
    yield made
    for r in made:
        r.stop()


def independent_signature_ok(header: str, body: bytes) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(","))
    expected = hmac.new(SECRET.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(parts["v1"], expected) and abs(time.time() - int(parts["t"])) < 60


def test_an_alert_is_delivered_signed_once_despite_redelivery_and_restarts(
        notifier: Notifier, receivers: list[Receiver], redis_server: str) -> None:
    ok = Receiver().start()
    receivers.append(ok)
    notifier.start()
    hooked, plain = notifier.rule(ok.url), notifier.rule(None)
    event_id, body = notifier.alert(hooked)
    notifier.alert(plain)  # a rule without a webhook: nothing to send
    notifier.send(b"0x" + b"ab" * 20, orjson.dumps({"id": "d" * 32, "type": "large_trade", "data": {}}))
    wait_for(ok.accepted, 30, "the webhook delivery")
    (_, headers, got), = ok.accepted()
    assert got == body  # the exact bytes of the event
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Pads-Event-Id"] == event_id
    assert independent_signature_ok(headers["X-Pads-Signature"], got)
    assert SECRET not in notifier.proc.log_path.read_text()  # type: ignore[union-attr]

    notifier.send(b"0x" + b"ab" * 20, body)  # a redelivery of the same event
    wait_for(lambda: notifier.count("fired") == 3, 30, "the redelivered event to be read")
    notifier.kill()
    notifier.start()  # a restart: what Redis says was delivered stays delivered
    notifier.send(b"0x" + b"ab" * 20, body)
    wait_for(lambda: notifier.count("fired") == 1, 30, "the event after the restart to be read")
    time.sleep(1.0)
    assert len(ok.accepted()) == 1
    assert notifier.count("delivered") == 0 and notifier.count("recorded") == 0
    r = redis.Redis.from_url(redis_server)
    prefix = f"pads:{notifier.env['CHAIN_ID']}:notify"
    assert r.sismember(f"{prefix}:delivered:{hooked}", event_id)
    assert r.zcard(f"{prefix}:due") == 0


def test_a_failing_endpoint_gets_the_event_on_the_third_attempt_with_the_same_id(
        notifier: Notifier, receivers: list[Receiver]) -> None:
    flaky = Receiver(fail=2).start()
    receivers.append(flaky)
    notifier.start()
    rule = notifier.rule(flaky.url)
    event_id, body = notifier.alert(rule)
    wait_for(flaky.accepted, 30, "the third attempt")
    (_, headers, got), = flaky.accepted()
    assert flaky.seen == 3 and got == body and headers["X-Pads-Event-Id"] == event_id
    assert independent_signature_ok(headers["X-Pads-Signature"], got)
    assert notifier.count("retried") == 2 and notifier.count("delivered") == 1
    metrics = notifier.metrics()
    assert "pads_notify_retried_total 2.0" in metrics and "pads_notify_delivered_total 1.0" in metrics


def test_pending_deliveries_resume_after_a_kill(notifier: Notifier, receivers: list[Receiver]) -> None:
    down = Receiver(status=503).start()
    receivers.append(down)
    notifier.start()
    rule = notifier.rule(down.url)
    event_id, _ = notifier.alert(rule, kind="alert_retracted")
    wait_for(lambda: down.seen >= 2, 30, "failed attempts")
    assert notifier.count("retracted") == 1
    notifier.kill()
    down.status = 200
    notifier.start()
    wait_for(down.accepted, 30, "the delivery after the restart")
    assert [h["X-Pads-Event-Id"] for _, h, _ in down.accepted()] == [event_id]


def test_a_dead_endpoint_does_not_delay_a_healthy_one(notifier: Notifier, receivers: list[Receiver]) -> None:
    notifier.env.update(WEBHOOK_TIMEOUT_MS="2000", WEBHOOK_CONCURRENCY="1", WEBHOOK_QUEUE="2")
    black_hole, healthy = Receiver(delay=5).start(), Receiver().start()
    receivers.extend([black_hole, healthy])
    notifier.start()
    slow_rule, ok_rule = notifier.rule(black_hole.url), notifier.rule(healthy.url)
    for _ in range(8):
        notifier.alert(slow_rule)
    wait_for(lambda: black_hole.seen >= 1, 30, "the dead endpoint to be tried")
    sent = time.time()
    notifier.alert(ok_rule)
    wait_for(healthy.accepted, 30, "the healthy endpoint's delivery")
    # One request at a time to the dead endpoint, each 2 s: sharing a queue would take 16 s.
    assert healthy.accepted()[0][0] - sent < 3.0


def test_past_retry_for_the_event_is_dead_lettered(notifier: Notifier, receivers: list[Receiver]) -> None:
    notifier.env["WEBHOOK_RETRY_FOR"] = "3s"
    broken = Receiver(status=500).start()
    receivers.append(broken)
    notifier.start()
    rule = notifier.rule(broken.url)
    event_id, body = notifier.alert(rule)
    wait_for(lambda: notifier.count("dead_lettered") == 1, 30, "the dead letter")
    letters = [json.loads(v) for _, v in read_topic(notifier.bootstrap, notifier.env["DEAD_LETTER_TOPIC"])]
    assert len(letters) == 1
    (letter,) = letters
    assert letter["stage"] == "notify" and letter["topic"] == notifier.env["MARKET_EVENTS_TOPIC"]
    assert letter["value"].encode() == body and letter["value_bytes"] == len(body)
    assert "HTTP 500" in letter["reason"] and "WEBHOOK_RETRY_FOR" in letter["reason"] and rule in letter["reason"]
    assert broken.url not in letter["reason"]  # the host only: URLs may carry tokens
    seen = broken.seen
    time.sleep(1.5)
    assert broken.seen == seen and broken.accepted() == []
    assert "pads_notify_dead_lettered_total 1.0" in notifier.metrics()
    assert event_id in notifier.proc.log_path.read_text()  # type: ignore[union-attr]


def test_replay_leaves_the_delivery_state_alone(redis_server: str) -> None:
    import asyncio

    from pads_stream.ops.replay import delete_namespace

    r = redis.Redis.from_url(redis_server)
    prefix = f"pads:{next(_chains)}"
    r.set(f"{prefix}:candles:x:1m", 1)
    r.sadd(f"{prefix}:notify:delivered:r_1", "a" * 32)
    r.zadd(f"{prefix}:notify:due", {"b" * 32: 1})
    asyncio.run(delete_namespace(redis_server, prefix))
    assert not r.exists(f"{prefix}:candles:x:1m")
    assert r.sismember(f"{prefix}:notify:delivered:r_1", "a" * 32) and r.zcard(f"{prefix}:notify:due") == 1
