"""The launchpad's event topics and the token a log is about, read from its topics alone.

This is all of the ABI the chain layer needs: the bridge filters logs by these hashes and
keys each one by `token_of` (see `RawLog.key`). Decoding a log's data is `decode`'s job;
`decode.abi` re-exports the topic hashes and `topic_address`. A topic hash is the keccak of its
signature.
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
LAUNCHPAD_TOPICS = (TRADE_TOPIC, CURVE_CREATED_TOPIC, GRADUATED_TOPIC)

_ADDRESS_TOPIC = re.compile(r"0x0{24}[0-9a-fA-F]{40}")


def topic_address(topic: str) -> str:
    """An indexed address: the low 20 bytes of a 32-byte topic, upper 12 must be zero."""
    if len(topic) != 66:
        raise DecodeError(f"topic {topic!r} is not 32 bytes")
    if not _ADDRESS_TOPIC.fullmatch(topic):
        raise DecodeError(f"topic {topic!r} is not a left-padded address")
    return "0x" + topic[26:].lower()


def token_of(topics: tuple[str, ...] | list[str]) -> str | None:
    """The token a launchpad log is about (its first indexed topic), or None for other logs."""
    if len(topics) < 2 or topics[0] not in LAUNCHPAD_TOPICS:
        return None
    try:
        return topic_address(topics[1])
    except DecodeError:
        return None
