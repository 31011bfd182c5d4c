"""Candles computed straight from the chain's logs, independently of pads_stream's code:
eth_abi decoding, exact Fractions for prices, plain grouping by bucket."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal
from fractions import Fraction
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak

TRADE = "0x" + keccak(text="Trade(address,address,bool,uint256,uint256,uint256,uint256)").hex()
CREATED = "0x" + keccak(text="CurveCreated(address,address,address,string,string)").hex()
INTERVALS = {"1s": 1, "15s": 15, "30s": 30, "1m": 60, "5m": 300, "15m": 900, "1h": 3600, "4h": 14400, "1d": 86400}
CTX = Context(prec=30, rounding=ROUND_HALF_EVEN)
# CANDLE_RETENTION's default: buckets this long before a token's last final trade are gone.
DAY = 86400
RETENTION: dict[str, int] = {"1s": DAY, "15s": 3 * DAY, "30s": 7 * DAY, "1m": 30 * DAY, "5m": 90 * DAY}


@dataclass(frozen=True)
class ChainTrade:
    token: str
    block: int
    log_index: int
    ts: int
    is_buy: bool
    token_amount: int
    eth_amount: int
    trader: str = ""


def fmt(f: Fraction) -> str:
    d = CTX.divide(Decimal(f.numerator), Decimal(f.denominator))
    s = format(d, "f")
    return s.rstrip("0").rstrip(".") if "." in s else s


def chain_trades(w3: Any, factory: str) -> list[ChainTrade]:
    """Trades of curves the factory created, from eth_getLogs over the whole chain."""
    created = w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest", "address": w3.to_checksum_address(factory),
                               "topics": [CREATED]})
    curves = [w3.to_checksum_address("0x" + lg["topics"][2].hex()[-40:]) for lg in created]
    if not curves:
        return []
    logs = w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest", "address": curves, "topics": [TRADE]})
    out = []
    for lg in logs:
        is_buy, tok, eth, _, _ = abi_decode(["bool", "uint256", "uint256", "uint256", "uint256"], bytes(lg["data"]))
        ts = w3.eth.get_block(lg["blockNumber"])["timestamp"]
        out.append(ChainTrade("0x" + lg["topics"][1].hex()[-40:], lg["blockNumber"], lg["logIndex"], ts,
                              is_buy, tok, eth, "0x" + lg["topics"][2].hex()[-40:]))
    out.sort(key=lambda t: (t.block, t.log_index))
    return out


def expected_candles(trades: list[ChainTrade], finalized: int = -1) -> dict[tuple[str, str], dict[int, dict[str, Any]]]:
    """{(token, interval): {bucket: candle}} with the public field encoding; a candle is final
    when every trade in it is at or below the `finalized` block."""
    groups: dict[tuple[str, str, int], list[ChainTrade]] = defaultdict(list)
    for t in trades:
        for label, secs in INTERVALS.items():
            groups[(t.token, label, t.ts - t.ts % secs)].append(t)
    last_final: dict[str, int] = {}
    for t in trades:
        if t.block <= finalized:
            last_final[t.token] = max(last_final.get(t.token, t.ts), t.ts)
    out: dict[tuple[str, str], dict[int, dict[str, Any]]] = defaultdict(dict)
    for (token, label, bucket), ts in groups.items():
        if label in RETENTION and token in last_final and bucket < last_final[token] - RETENTION[label]:
            continue
        prices = [Fraction(t.eth_amount, t.token_amount) for t in ts]
        out[(token, label)][bucket] = {
            "t": bucket, "open": fmt(prices[0]), "high": fmt(max(prices)), "low": fmt(min(prices)),
            "close": fmt(prices[-1]), "volume_token": str(sum(t.token_amount for t in ts)),
            "volume_eth": str(sum(t.eth_amount for t in ts)), "trades": len(ts),
            "buys": sum(t.is_buy for t in ts), "sells": sum(not t.is_buy for t in ts),
            "final": all(t.block <= finalized for t in ts),
        }
    return dict(out)


def window_fields(trades: list[ChainTrade], token: str, t: int, label: str, seconds: int) -> dict[str, str]:
    """A market window's counts at chain time t, straight from the definition: the trades with
    block_timestamp >= floor(t/60)*60 - W + 60."""
    start = t - t % 60 - seconds + 60
    inside = [x for x in trades if x.token == token and x.ts >= start]
    return {f"trades_{label}": str(len(inside)), f"buys_{label}": str(sum(x.is_buy for x in inside)),
            f"volume_eth_{label}": str(sum(x.eth_amount for x in inside)),
            f"traders_{label}": str(len({x.trader for x in inside}))}
