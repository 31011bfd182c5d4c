"""Synthetic chain history in exactly the `pads.chain-logs` format (pure, deterministic).

Tokens are drawn Zipf-like from N, a block every 1-2 s carries many logs, amounts follow a
bonding-curve-like price; every token's CurveCreated comes first, and a head marker follows
each block, as the bridge publishes them. With `rules`, that many alert rules follow the
creations as raw-log rule records (to every partition, as `alerts.store` writes them), spread
evenly over the tokens, their types mixed and their thresholds within the workload's prices
and amounts, so some fire.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from eth_abi import encode

from pads_stream.alerts.rules import RULE_KEY, parse_rule
from pads_stream.chain.rawlog import MARKER_KEY, HeadMarker, RawLog
from pads_stream.decode.abi import CURVE_CREATED_TOPIC, TRADE_TOPIC

FACTORY = "0x" + "fa" * 20


def _address(kind: int, i: int) -> str:
    return "0x" + f"{kind:02x}" + f"{i:038x}"


def _topic(address: str) -> str:
    return "0x" + "0" * 24 + address[2:]


@dataclass(frozen=True)
class Workload:
    trades: int
    tokens: int
    logs_per_block: int = 200
    seed: int = 1
    chain_id: int = 31337
    finality_depth: int = 30
    rules: int = 0
    # "often": thresholds inside the workload's (white-noise) prices and sizes, about one alert
    # per trade; "rarely": at their edges, as alert rules mostly are (the cost of evaluating).
    rules_fire: str = "often"


def token_of(i: int) -> str:
    return _address(0x70, i)


def curve_of(i: int) -> str:
    return _address(0xC0, i)


RULE_TYPES = ("price_above", "price_below", "large_trade", "volume", "change")


def rule_records(w: Workload) -> Iterator[bytes]:
    """`w.rules` rule records; their own random stream, so the trades do not depend on them."""
    rng = random.Random(w.seed + 7919)
    for i in range(w.rules):
        kind = RULE_TYPES[i % len(RULE_TYPES)]
        body: dict[str, str] = {"type": kind, "token": token_of(i % w.tokens)}
        rare = w.rules_fire == "rarely"
        if kind.startswith("price_"):  # prices are 1 / U(30M, 36M) ETH
            body["value"] = (("0.0000000333" if kind == "price_above" else "0.00000002778") if rare
                             else f"0.0000000{rng.randint(278, 333)}")
        elif kind == "large_trade":  # amounts are U(0.0001, 1) ETH
            body["value"] = "0.9999" if rare else rng.choice(("0.5", "0.9", "0.99"))
        else:
            body["window"] = rng.choice(("5m", "1h"))
            if kind == "volume":
                body["value"] = rng.choice(("500", "1000")) if rare else rng.choice(("1", "5", "20"))
            else:
                body["value"] = rng.choice(("20", "50")) if rare else rng.choice(("2", "5", "10"))
        body["recurrence"] = rng.choice(("every", "once"))
        rule = parse_rule(body, owner="bench", rule_id=f"r_bench{i:08d}", created_at=0, windows=(300, 3600))
        yield rule.raw_record(w.chain_id)


def messages(w: Workload) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) pairs in publish order; MARKER_KEY and RULE_KEY messages go to every partition."""
    rng = random.Random(w.seed)
    weights = [1 / (i + 1) for i in range(w.tokens)]  # Zipf, s = 1
    block, ts, index = 1, 1_700_000_000, 0
    log_index = 0

    def raw(address: str, topics: tuple[str, ...], data: bytes) -> RawLog:
        nonlocal log_index
        log_index += 1
        return RawLog(w.chain_id, address, topics, "0x" + data.hex(), block, "0x" + f"{block:064x}", ts,
                      "0x" + f"{block:032x}{log_index:032x}", log_index, log_index - 1, False)

    def end_block() -> tuple[bytes, bytes]:
        nonlocal block, ts, log_index
        marker = HeadMarker(w.chain_id, block, "0x" + f"{block:064x}", max(block - w.finality_depth, 0), ts)
        block, ts, log_index = block + 1, ts + rng.randint(1, 2), 0
        return MARKER_KEY, marker.encode()

    for i in range(w.tokens):
        data = encode(["string", "string"], [f"Token {i}", f"T{i}"])
        lg = raw(FACTORY, (CURVE_CREATED_TOPIC, _topic(token_of(i)), _topic(curve_of(i)), _topic(_address(0xEE, 1))),
                 data)
        yield lg.key, lg.encode()
        if log_index >= w.logs_per_block:
            yield end_block()
    for record in rule_records(w):
        yield RULE_KEY, record
    chosen = rng.choices(range(w.tokens), weights=weights, k=w.trades)
    for i in chosen:
        is_buy = rng.random() < 0.6
        eth = rng.randint(10**14, 10**18)
        tokens = eth * rng.randint(30_000_000, 36_000_000)
        data = encode(["bool", "uint256", "uint256", "uint256", "uint256"], [is_buy, tokens, eth, 30 * 10**18, 10**27])
        lg = raw(curve_of(i), (TRADE_TOPIC, _topic(token_of(i)), _topic(_address(0xAA, rng.randint(1, 5000)))), data)
        yield lg.key, lg.encode()
        index += 1
        if log_index >= w.logs_per_block:
            yield end_block()
    yield end_block()
