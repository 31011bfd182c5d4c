"""Redis key names: the public contract the Node.js backend and HTTP API read.

`prefix` is `{REDIS_NAMESPACE}:{chain_id}`, `pads:{chain_id}` by default; a replay can build
into another namespace and be compared with `checksum` before it is switched over.
"""

from __future__ import annotations


def prefix(namespace: str, chain_id: int) -> str:
    return f"{namespace}:{chain_id}"


def candles_key(pfx: str, token: str, interval: str) -> str:
    return f"{pfx}:candles:{token}:{interval}"


def market_key(pfx: str, token: str) -> str:
    return f"{pfx}:market:{token}"


def trades_key(pfx: str, token: str) -> str:
    return f"{pfx}:trades:{token}"


def rank_key(pfx: str, name: str) -> str:
    """A ranking of tokens (sorted set of addresses): created, volume_{W}, market_cap, progress,
    graduated (see `candles.market.rank_scores`)."""
    return f"{pfx}:rank:{name}"


def epoch_key(pfx: str) -> str:
    """The mirror's epoch: written with its data, so a namespace that lost it was wiped."""
    return f"{pfx}:mirror:epoch"


def repair_key(pfx: str) -> str:
    """Hash of raw-log partitions whose Redis data is still to be rebuilt after a wipe."""
    return f"{pfx}:mirror:repair"


def tokens_key(pfx: str) -> str:
    return f"{pfx}:tokens"


def trade_score(block_number: int, log_index: int) -> int:
    """Orders recent trades by chain position; exact in a double up to block 9e10."""
    return block_number * 100_000 + log_index
