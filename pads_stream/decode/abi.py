"""Fixed-layout ABI slicing for the launchpad events (pure, no eth_abi per log).

Every field is a 32-byte word; dynamic strings (CurveCreated name/symbol) are read through
their offsets with bounds checks. The event signatures and topic hashes live in
`chain.topics`, below this layer.
"""

from __future__ import annotations

import re
import unicodedata

from ..chain.topics import CURVE_CREATED_TOPIC, GRADUATED_TOPIC, TRADE_TOPIC, topic_address
from ..errors import DecodeError

# The topic hashes and `topic_address` are chain-level (the bridge filters and keys logs with
# them); re-exported so decoding code finds the whole event ABI here.
__all__ = ["CURVE_CREATED_TOPIC", "GRADUATED_TOPIC", "TRADE_TOPIC", "data_bytes", "dynamic_string", "topic_address",
           "word_bool", "words"]

_HEX_BODY = re.compile(r"(?:[0-9a-fA-F]{2})*")


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


def word_bool(value: int) -> bool:
    if value > 1:
        raise DecodeError(f"bool word holds {value}")
    return value == 1


def dynamic_string(data: bytes, offset: int) -> str:
    """An ABI `string`; bytes that are not UTF-8 become U+FFFD (a contract does not check them,
    and refusing the log would lose the token's creation)."""
    if offset + 32 > len(data):
        raise DecodeError(f"string offset {offset} beyond data of {len(data)} bytes")
    length = int.from_bytes(data[offset:offset + 32], "big")
    end = offset + 32 + length
    if end > len(data):
        raise DecodeError(f"string of {length} bytes at {offset} overruns data")
    return data[offset + 32:end].decode("utf-8", "replace")


# Names and symbols are anyone's input, shown on every chart: bounded and made plain text.
NAME_MAX = 64
SYMBOL_MAX = 16
_HIDDEN = frozenset(("Cc", "Cf", "Cs", "Co", "Cn"))  # controls, bidi and zero-width, unassigned


def display_text(text: str, limit: int) -> str:
    """Without control, format (bidi overrides, zero-width), private-use and unassigned code
    points, trimmed of surrounding whitespace, at most `limit` code points. HTML is kept as
    text: readers escape it (the chart page does)."""
    kept = "".join(ch for ch in text if unicodedata.category(ch) not in _HIDDEN)
    return kept.strip()[:limit].rstrip()

