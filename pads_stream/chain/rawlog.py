"""The raw-log message on `pads.chain-logs`: one chain log as the bridge saw it.

Key: the token a launchpad log is about (see `RawLog.key`). Value: compact JSON with exactly
these fields. Both the bridge (producer) and the worker (consumer) use this module.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import orjson

from ..errors import DecodeError
from .topics import token_of

FIELDS = ("chain_id", "address", "topics", "data", "block_number", "block_hash", "block_timestamp",
          "transaction_hash", "transaction_index", "log_index", "removed")


@dataclass(frozen=True, slots=True)
class RawLog:
    chain_id: int
    address: str
    topics: tuple[str, ...]
    data: str
    block_number: int
    block_hash: str
    block_timestamp: int
    transaction_hash: str
    transaction_index: int
    log_index: int
    removed: bool = False

    @property
    def cursor(self) -> tuple[int, int]:
        """Order of a log on its chain."""
        return (self.block_number, self.log_index)

    def encode(self) -> bytes:
        d = asdict(self)
        d["topics"] = list(self.topics)
        return orjson.dumps(d)

    @property
    def key(self) -> bytes:
        """Partition key: the token for launchpad events, whose first indexed topic it is, so a
        token's creation, trades and their removals share one partition in chain order and the
        worker needs no repartition hop. Any other log is keyed by its contract."""
        return (token_of(self.topics) or self.address).encode()


_HEX = re.compile(r"0x[0-9a-fA-F]*")


MARKER_KEY = b"\x00head"


@dataclass(frozen=True, slots=True)
class HeadMarker:
    """Published by the bridge to every partition of the raw-log topic after each block range:
    every log of blocks <= block_number is already before it in that partition, and blocks
    <= finalized_block (block_number - FINALITY_DEPTH) are final. `block_timestamp` is the
    head block's time: the partition's chain time, which moves rolling windows (None in
    markers written before it existed)."""

    chain_id: int
    block_number: int
    block_hash: str
    finalized_block: int
    block_timestamp: int | None = None

    def encode(self) -> bytes:
        d = {"kind": "head", "chain_id": self.chain_id, "block_number": self.block_number,
             "block_hash": self.block_hash, "finalized_block": self.finalized_block}
        if self.block_timestamp is not None:
            d["block_timestamp"] = self.block_timestamp
        return orjson.dumps(d)


def is_rule_record(payload: bytes) -> bool:
    """An alert rule's control record (`alerts.rules`, key `\x00rule`): not chain data, so the
    checker and the self-repair, which recompute chain data, pass over it."""
    return payload[:40].find(b'"kind":"rule"') != -1


def parse_message(payload: bytes) -> RawLog | HeadMarker:
    """A raw-log topic message: a chain log, or a head marker (`"kind": "head"`)."""
    if payload[:40].find(b'"kind":"head"') != -1:
        try:
            d = orjson.loads(payload)
            ts = d.get("block_timestamp")
            return HeadMarker(_int(d["chain_id"], "chain_id"), _int(d["block_number"], "block_number"),
                              _hex(d["block_hash"], "block_hash"), _int(d["finalized_block"], "finalized_block"),
                              None if ts is None else _int(ts, "block_timestamp"))
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise DecodeError(f"bad head marker: {exc!r}") from None
    return parse_raw_log(payload)


def _hex(value: object, name: str) -> str:
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise DecodeError(f"field {name!r} is not a 0x-hex string: {value!r}")
    return value.lower()


def _int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DecodeError(f"field {name!r} is not a non-negative integer: {value!r}")
    return value


def parse_raw_log(payload: bytes) -> RawLog:
    """Validate a message from the raw-log topic; DecodeError says what is wrong."""
    try:
        d = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"not JSON: {exc}") from None
    if not isinstance(d, dict):
        raise DecodeError("raw log is not a JSON object")
    missing = [f for f in FIELDS if f not in d]
    if missing:
        raise DecodeError(f"raw log lacks {', '.join(missing)}")
    topics = d["topics"]
    if not isinstance(topics, list) or not topics:
        raise DecodeError("raw log has no topics")
    removed = d["removed"]
    if not isinstance(removed, bool):
        raise DecodeError(f"field 'removed' is not a boolean: {removed!r}")
    return RawLog(
        chain_id=_int(d["chain_id"], "chain_id"),
        address=_hex(d["address"], "address"),
        topics=tuple(_hex(t, "topics") for t in topics),
        data=_hex(d["data"], "data"),
        block_number=_int(d["block_number"], "block_number"),
        block_hash=_hex(d["block_hash"], "block_hash"),
        block_timestamp=_int(d["block_timestamp"], "block_timestamp"),
        transaction_hash=_hex(d["transaction_hash"], "transaction_hash"),
        transaction_index=_int(d["transaction_index"], "transaction_index"),
        log_index=_int(d["log_index"], "log_index"),
        removed=removed,
    )
