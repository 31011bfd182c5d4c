"""Fixed-layout ABI slicing for the launchpad events (pure, no eth_abi per log).

Every field is a 32-byte word; dynamic strings (CurveCreated name/symbol) are read through
their offsets with bounds checks. Topic hashes are the keccak of the signatures below.
"""

from __future__ import annotations

import re

from eth_utils import keccak

from ..errors import DecodeError

TRADE_SIGNATURE = "Trade(address,address,bool,uint256,uint256,uint256,uint256)"
CURVE_CREATED_SIGNATURE = "CurveCreated(address,address,address,string,string)"
GRADUATED_SIGNATURE = "Graduated(address,uint256,uint256)"


def topic0(signature: str) -> str:
    return "0x" + keccak(text=signature).hex()


TRADE_TOPIC = topic0(TRADE_SIGNATURE)
CURVE_CREATED_TOPIC = topic0(CURVE_CREATED_SIGNATURE)
GRADUATED_TOPIC = topic0(GRADUATED_SIGNATURE)


_HEX_BODY = re.compile(r"(?:[0-9a-fA-F]{2})*")
_ADDRESS_TOPIC = re.compile(r"0x0{24}[0-9a-fA-F]{40}")


def data_bytes(data: str) -> bytes:
    # bytes.fromhex alone would accept whitespace inside the data.
    if not data.startswith("0x") or not _HEX_BODY.fullmatch(data, 2):
        raise DecodeError("data is not valid hex")
    return bytes.fromhex(data[2:])


def words(data: bytes, count: int) -> list[int]:
    """The first `count` 32-byte words as unsigned integers."""
    if len(data) < 32 * count:
        raise DecodeError(f"data has {len(data)} bytes, expected at least {32 * count}")
    return [int.from_bytes(data[i * 32:(i + 1) * 32], "big") for i in range(count)]


def topic_address(topic: str) -> str:
    """An indexed address: the low 20 bytes of a 32-byte topic, upper 12 must be zero."""
    if len(topic) != 66:
        raise DecodeError(f"topic {topic!r} is not 32 bytes")
    if not _ADDRESS_TOPIC.fullmatch(topic):
        raise DecodeError(f"topic {topic!r} is not a left-padded address")
    return "0x" + topic[26:].lower()


def word_bool(value: int) -> bool:
    if value > 1:
        raise DecodeError(f"bool word holds {value}")
    return value == 1


def dynamic_string(data: bytes, offset: int) -> str:
    if offset + 32 > len(data):
        raise DecodeError(f"string offset {offset} beyond data of {len(data)} bytes")
    length = int.from_bytes(data[offset:offset + 32], "big")
    end = offset + 32 + length
    if end > len(data):
        raise DecodeError(f"string of {length} bytes at {offset} overruns data")
    try:
        return data[offset + 32:end].decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError("string is not UTF-8") from None


LAUNCHPAD_TOPICS = (TRADE_TOPIC, CURVE_CREATED_TOPIC, GRADUATED_TOPIC)


def token_of(topics: tuple[str, ...] | list[str]) -> str | None:
    """The token a launchpad log is about (its first indexed topic), or None for other logs."""
    if len(topics) < 2 or topics[0] not in LAUNCHPAD_TOPICS:
        return None
    try:
        return topic_address(topics[1])
    except DecodeError:
        return None
