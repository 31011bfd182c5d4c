"""Launchpad topics and the raw-log key: chain-level, without the decode layer."""

from __future__ import annotations

import subprocess
import sys

import pytest
from eth_utils import keccak

from pads_stream.chain.rawlog import RawLog
from pads_stream.chain.topics import CURVE_CREATED_TOPIC, GRADUATED_TOPIC, TRADE_TOPIC, token_of

TOKEN = "0x" + "a1" * 20
CONTRACT = "0x" + "c3" * 20


def addr_topic(address: str) -> str:
    return "0x" + "00" * 12 + address[2:]


def log(*topics: str) -> RawLog:
    return RawLog(31337, CONTRACT, topics, "0x", 1, "0x" + "11" * 32, 1_700_000_000, "0x" + "22" * 32, 0, 0)


def test_topic_hashes_are_the_known_keccaks() -> None:
    assert TRADE_TOPIC == "0x" + keccak(text="Trade(address,address,bool,uint256,uint256,uint256,uint256)").hex()
    assert len({TRADE_TOPIC, CURVE_CREATED_TOPIC, GRADUATED_TOPIC}) == 3


@pytest.mark.parametrize("t0", [TRADE_TOPIC, CURVE_CREATED_TOPIC, GRADUATED_TOPIC])
def test_launchpad_logs_are_keyed_by_token(t0: str) -> None:
    upper = "0x" + "A1" * 20
    assert token_of((t0, addr_topic(upper))) == TOKEN
    assert log(t0, addr_topic(TOKEN), addr_topic(CONTRACT)).key == TOKEN.encode()


@pytest.mark.parametrize("topics", [
    (TRADE_TOPIC,),  # no indexed token
    ("0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef", addr_topic(TOKEN)),  # not a launchpad event
    (TRADE_TOPIC, "0x" + "ff" * 32),  # not a left-padded address
    (TRADE_TOPIC, TOKEN),  # not 32 bytes
])
def test_other_logs_are_keyed_by_contract(topics: tuple[str, ...]) -> None:
    assert token_of(topics) is None
    assert log(*topics).key == CONTRACT.encode()


def test_chain_does_not_import_decode() -> None:
    """Layering: decode sits above chain. Checked in a fresh interpreter, after computing a key."""
    code = f"""
import sys
from pads_stream.chain.rawlog import RawLog
from pads_stream.chain.topics import TRADE_TOPIC
key = RawLog(1, "0x" + "c3" * 20, (TRADE_TOPIC, "0x" + "00" * 12 + "a1" * 20), "0x", 1, "0x", 1, "0x", 0, 0).key
assert key == b"{TOKEN}", key
print(sorted(m for m in sys.modules if m.startswith("pads_stream.decode")))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
