"""Redis key names: the public contract the Node.js backend and HTTP API read."""

from __future__ import annotations


def candles_key(chain_id: int, token: str, interval: str) -> str:
    return f"pads:{chain_id}:candles:{token}:{interval}"


def market_key(chain_id: int, token: str) -> str:
    return f"pads:{chain_id}:market:{token}"


def trades_key(chain_id: int, token: str) -> str:
    return f"pads:{chain_id}:trades:{token}"


def tokens_key(chain_id: int) -> str:
    return f"pads:{chain_id}:tokens"


def trade_score(block_number: int, log_index: int) -> int:
    """Orders recent trades by chain position; exact in a double up to block 9e10."""
    return block_number * 100_000 + log_index
