"""Bad input, a refused backend, a stopped worker and a Redis outage: loud, lossless, exact."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from typing import Any

import orjson
import redis
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from pads_stream.decode.abi import TRADE_TOPIC
from pads_stream.topics import topic_configs
from stack import redis as local_redis
from stack.process import ROOT

from .conftest import Deployment, get_json, wait_for
from .driver import produce, read_topic, trades_in_background
from .test_market_data import check_clean
from .test_pipeline import assert_exact


def test_sigterm_mid_stream_then_restart_leaves_candles_exact(deployment: Deployment) -> None:
    d = deployment
    d.start_bridge()
    worker = d.start_worker()
    # Trades keep flowing in another thread while the worker is stopped and started again.
    flow, done = trades_in_background(d.pad, 240, seed=5)
    flow.start()
    wait_for(lambda: len(d.redis_candles()) >= 3, 60, "the first candles")
    worker.proc.send_signal(signal.SIGTERM)
    worker.proc.wait(60)
    assert worker.proc.returncode == 0, worker.log_tail(40)
    time.sleep(1.0)
    d.start_worker(DATA_DIR=str(d.dir / "worker-data"))
    flow.join(300)
    assert "ts" in done, "the trade driver did not finish"
    assert_exact(d)


def test_a_redis_outage_holds_the_worker_back_and_loses_nothing(deployment: Deployment) -> None:
    """Redis stops while trades flow: the worker retries, reports it, commits nothing it could
    not write, and once Redis is back (with its data: append-only file) it catches up exactly."""
    d = deployment
    own = local_redis.start(d.dir / "redis", persist=True)
    d.procs.append(own)
    d.env["REDIS_URL"] = url = own.urls["REDIS_URL"]
    d.redis = redis.Redis.from_url(url)
    d.start_bridge()
    worker = d.start_worker()
    flow, done = trades_in_background(d.pad, 240, seed=11)
    flow.start()
    wait_for(lambda: len(d.redis_candles()) >= 3, 60, "the first candles")
    own.stop()
    wait_for(lambda: "redis unreachable" in d.health(worker)[1]["problems"], 30, "health to report Redis down")
    wait_for(lambda: "redis mirror write of" in worker.log_path.read_text(), 30, "a failed write to be logged")
    time.sleep(2.0)  # trades go on arriving while Redis is away
    assert worker.proc.poll() is None, worker.log_tail(40)
    d.procs.append(local_redis.start(d.dir / "redis", port=int(url.rsplit(":", 1)[1].split("/")[0]), persist=True))
    flow.join(300)
    assert "ts" in done, "the trade driver did not finish"
    assert_exact(d)


def test_refused_handshake_fails_loudly(deployment: Deployment) -> None:
    d = deployment
    worker = d.start_worker(BACKEND_SOCKET_TOKEN="not-the-token")
    # Health is 503 from the start (not yet connected); the refusal's reason follows the first attempt.
    status, body = wait_for(lambda: (lambda r: r if any("unauthorized" in p for p in r[1]["problems"])
                                     else None)(d.health(worker)), 30, "health to report the refused listener")
    assert status == 503
    assert any(p.startswith("socket.io listener not connected: ") and "unauthorized" in p
               for p in body["problems"]), body
    assert "refused the listener" in worker.log_path.read_text()


def test_undecodable_logs_go_to_dead_letters_and_the_worker_keeps_going(deployment: Deployment) -> None:
    d = deployment
    curve = d.pad.create_curve("Good", "GOOD")
    d.start_worker()
    bad_trade = {
        "chain_id": d.chain_id, "address": curve.curve, "topics": [TRADE_TOPIC, "0x" + "00" * 32],
        "data": "0x1234", "block_number": 1, "block_hash": "0x" + "ab" * 32, "block_timestamp": 1,
        "transaction_hash": "0x" + "cd" * 32, "transaction_index": 0, "log_index": 0, "removed": False,
    }
    produce(d.env["KAFKA_BOOTSTRAP_SERVERS"], d.env["RAW_LOG_TOPIC"], [
        (b"0xdead", b"{not json"),
        (curve.curve.encode(), orjson.dumps(bad_trade)),
    ])
    d.start_bridge()
    d.pad.buy(curve, d.pad.accounts[2], 10**17)
    assert_exact(d, timeout=60)
    # Both were produced, possibly to different partitions: wait for two, then check there are no more.
    letters = wait_for(lambda: (lambda ls: ls if len(ls) >= 2 else None)(
        read_topic(d.env["KAFKA_BOOTSTRAP_SERVERS"], d.env["DEAD_LETTER_TOPIC"])), 30, "two dead letters")
    reasons = sorted(orjson.loads(v)["reason"] for _, v in letters)
    assert len(reasons) == 2, reasons
    assert any(r.startswith("not JSON") for r in reasons), reasons
    assert any("expected 3 topics" in r for r in reasons), reasons
    originals = {orjson.loads(v)["value"] for _, v in letters}
    assert "{not json" in originals


def test_a_tombstone_and_a_2mb_record_are_dead_lettered_and_the_partition_keeps_moving(
        deployment: Deployment) -> None:
    """A record with a null value used to raise TypeError out of the folder on every redelivery,
    and a record over Kafka's default 1 MB could not be dead-lettered (the dead letter was
    refused, again on every redelivery): either way the partition stopped for good."""
    d = deployment
    curve = d.pad.create_curve("Tomb", "TOMB")
    d.start_worker()
    big = b"{" + b"x" * (2 << 20) + b"}"
    produce(d.env["KAFKA_BOOTSTRAP_SERVERS"], d.env["RAW_LOG_TOPIC"],
            [(curve.token.encode(), None), (curve.token.encode(), big)])
    d.start_bridge()
    for i in range(3):
        d.pad.buy(curve, d.pad.accounts[2 + i], 10**17)
    assert_exact(d, timeout=60)  # the token's partition, which holds both, moved past them
    letters = wait_for(lambda: (lambda got: got if len(got) >= 2 else None)(
        read_topic(d.env["KAFKA_BOOTSTRAP_SERVERS"], d.env["DEAD_LETTER_TOPIC"])), 30, "two dead letters")
    tomb, huge = (orjson.loads(v) for _, v in letters[:2])
    assert tomb["reason"] == "a record with no value (a tombstone)" and tomb["value"] == ""
    assert letters[0][0] == letters[1][0] == curve.token.encode()
    assert huge["value_bytes"] == len(big) and huge["truncated"] is True and huge["reason"].startswith("not JSON")
    assert len(letters[1][1]) < 300 << 10 and huge["offset"] == tomb["offset"] + 1


def test_the_raw_topic_keeps_every_log_and_replay_refuses_a_lost_history(deployment: Deployment) -> None:
    """A replay rebuilds from the raw-log topic: it is created keeping every log, and a topic
    that lost its first logs to retention is refused rather than rebuilt partially."""
    d = deployment
    curve = d.pad.create_curve("Kept", "KEPT")
    d.start_bridge()
    worker = d.start_worker()
    d.pad.buy(curve, d.pad.accounts[2], 10**17)
    assert_exact(d, timeout=60)
    bootstrap, topic = d.env["KAFKA_BOOTSTRAP_SERVERS"], d.env["RAW_LOG_TOPIC"]
    assert retention(bootstrap, topic) == ("-1", "-1")
    worker.stop()
    before = d.checksum()
    delete_first_record(bootstrap, topic)
    env = {**os.environ, **d.env}
    out = subprocess.run([sys.executable, "-m", "pads_stream", "replay", "--yes"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "no longer holds its first logs" in out.stderr and f"{topic}[" in out.stderr
    assert "--partial" in out.stderr
    assert d.checksum() == before  # nothing was changed


def retention(bootstrap: str, topic: str) -> tuple[str, str]:
    async def read() -> dict[str, str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            return await topic_configs(admin, topic)
        finally:
            await admin.close()

    configs = asyncio.run(read())
    return configs["retention.ms"], configs["retention.bytes"]


def delete_first_record(bootstrap: str, topic: str) -> None:
    async def delete() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            partitions = {tp: 1 for tp in [TopicPartition(topic, p) for p in range(4)]}
            consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
            await consumer.start()
            try:
                ends = await consumer.end_offsets(list(partitions))
            finally:
                await consumer.stop()
            busy = next(tp for tp, end in ends.items() if end > 1)
            await admin.delete_records({busy: RecordsToDelete(1)}, timeout_ms=10_000)
        finally:
            await admin.close()

    asyncio.run(delete())


def _wipe(d: Deployment) -> int:
    """What FLUSHALL or a new, empty Redis does to this deployment's namespace."""
    keys = list(d.redis.scan_iter(f"pads:{d.chain_id}:*", count=1000))
    if keys:
        d.redis.delete(*keys)
    return len(keys)


def _repaired(d: Deployment, svc: Any) -> bool:
    ready = svc.urls["health"].replace("/health", "/ready")
    return d.redis.hlen(f"pads:{d.chain_id}:mirror:repair") == 0 and get_json(ready)[0] == 200


def test_an_emptied_redis_is_noticed_and_rebuilt_without_an_operator(deployment: Deployment) -> None:
    """Redis loses the namespace while the worker runs and trades keep coming, then again
    while the worker is stopped. Each time the worker says so, is not ready while it rebuilds
    history from the raw-log topic (new trades land meanwhile), and ends exact: candles equal
    the chain's, and every candle, market field and ranking equals the checker's recomputation."""
    d = deployment
    d.env.update(MARKET_DATA="1")
    d.start_bridge()
    worker = d.start_worker()
    flow, done = trades_in_background(d.pad, 400, seed=17)
    flow.start()
    wait_for(lambda: len(d.redis_candles()) >= 3, 60, "the first candles")
    wait_for(lambda: "nothing to rebuild" in worker.log_path.read_text(), 20, "a new deployment to rebuild nothing")
    assert "rebuilt from" not in worker.log_path.read_text()
    assert _wipe(d) > 0
    wait_for(lambda: "no longer holds" in worker.log_path.read_text(), 30, "the worker to notice the wipe")
    flow.join(300)
    assert "ts" in done, "the trade driver did not finish"
    wait_for(lambda: "redis mirror repair: raw-log partition" in worker.log_path.read_text(), 60, "a rebuild")
    wait_for(lambda: _repaired(d, worker), 90, "the rebuild to finish and the worker to be ready")
    assert_exact(d)
    assert check_clean(d), d.check()

    worker.stop()
    assert _wipe(d) > 0
    worker = d.start_worker("worker-again", DATA_DIR=str(d.dir / "worker-data"))
    wait_for(lambda: "the namespace was empty" in worker.log_path.read_text(), 30, "the restarted worker to notice")
    wait_for(lambda: "rebuilt from" in worker.log_path.read_text(), 60, "a rebuild after the restart")
    wait_for(lambda: _repaired(d, worker), 90, "the rebuild after the restart")
    assert_exact(d)
    assert check_clean(d), d.check()
