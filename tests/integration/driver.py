"""Drives trades on anvil with controlled block timestamps: several trades per block, gaps
chosen to cross minute, hour, 4h and day boundaries."""

from __future__ import annotations

import asyncio
import random
import threading
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from pads_stream.kafka_security import PLAINTEXT, KafkaSecurity
from simulator.chain import Curve, Launchpad

GAPS = [1, 2, 3, 7, 13, 29, 47, 61, 130, 300]


def next_boundary(ts: int, seconds: int) -> int:
    return ts - ts % seconds + seconds


def drive(pad: Launchpad, curves: list[Curve], n_trades: int, ts: int, rng: random.Random,
          jump_to: int | None = None) -> int:
    """Make about n_trades trades; returns the timestamp of the last mined block.

    With `jump_to`, one gap halfway lands a few seconds before that time, so the run crosses it.
    """
    pad.set_automine(False)
    traders = pad.accounts[1:18]
    made = 0
    jumped = jump_to is None
    try:
        while made < n_trades:
            sold: set[tuple[str, str]] = set()
            for _ in range(rng.randint(1, 6)):
                curve, trader = rng.choice(curves), rng.choice(traders)
                held = pad.token_balance(curve, trader)
                if held and (trader, curve.curve) not in sold and rng.random() < 0.35:
                    pad.sell(curve, trader, held * rng.randint(5, 30) // 100, wait=False)
                    sold.add((trader, curve.curve))
                else:
                    pad.buy(curve, trader, rng.randint(1, 300) * 10**15 + rng.randint(0, 10**12), wait=False)
                made += 1
            if not jumped and made >= n_trades // 2 and jump_to is not None and jump_to > ts + 5:
                ts = jump_to - rng.randint(3, 20)
                jumped = True
            else:
                ts += rng.choice(GAPS)
            pad.mine(ts)
    finally:
        pad.set_automine(True)
    return ts


def trades_in_background(pad: Launchpad, n: int, seed: int, curves: int = 3) -> tuple[threading.Thread, dict[str, Any]]:
    """New curves and a thread (not started) that makes about n trades on them; once it is
    done, the dict has the last block's timestamp under "ts"."""
    rng = random.Random(seed)
    made = [pad.create_curve(f"C{i}", f"C{i}") for i in range(curves)]
    now = pad.w3.eth.get_block("latest")["timestamp"]
    out: dict[str, Any] = {}

    def run() -> None:
        out["ts"] = drive(pad, made, n, next_boundary(now, 60), rng)

    return threading.Thread(target=run), out


async def _read_all(bootstrap: str, topic: str, security: KafkaSecurity) -> list[tuple[bytes | None, bytes]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, **security.aiokafka_kwargs())
    await consumer.start()
    try:
        for _ in range(100):
            tps = list(consumer.assignment())
            if tps:
                break
            await asyncio.sleep(0.1)
        if not tps:
            return []
        end = await consumer.end_offsets(tps)
        out = []
        while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
            batch = await consumer.getmany(timeout_ms=1000)
            for msgs in batch.values():
                out.extend((m.key, m.value) for m in msgs)
        return out
    finally:
        await consumer.stop()


def read_topic(bootstrap: str, topic: str, security: KafkaSecurity = PLAINTEXT) -> list[tuple[bytes | None, bytes]]:
    return asyncio.run(_read_all(bootstrap, topic, security))


async def _produce(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes | None]],
                   security: KafkaSecurity) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=16 << 20,
                                **security.aiokafka_kwargs())
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


def produce(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes | None]],
            security: KafkaSecurity = PLAINTEXT) -> None:
    asyncio.run(_produce(bootstrap, topic, messages, security))
