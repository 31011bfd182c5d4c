"""The raw-log message schema: round trip, and every malformed shape is a DecodeError."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from pads_stream.chain.rawlog import FIELDS, HeadMarker, RawLog, is_rule_record, parse_raw_log
from pads_stream.errors import DecodeError

ADDRESS = "0x" + "ab" * 20
TOPIC = "0x" + "11" * 32


def valid(**overrides: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "chain_id": 31337, "address": ADDRESS, "topics": [TOPIC, "0x" + "00" * 12 + "cd" * 20],
        "data": "0x" + "00" * 32, "block_number": 12, "block_hash": "0x" + "22" * 32,
        "block_timestamp": 1_700_000_000, "transaction_hash": "0x" + "33" * 32,
        "transaction_index": 0, "log_index": 3, "removed": False,
    }
    d.update(overrides)
    return d


def test_fields_constant_matches_dataclass() -> None:
    assert FIELDS == RawLog.__slots__


def test_parse_valid_and_round_trip() -> None:
    log = parse_raw_log(orjson.dumps(valid()))
    assert log.chain_id == 31337 and log.address == ADDRESS and log.topics[0] == TOPIC
    assert log.cursor == (12, 3)
    assert log.key == ADDRESS.encode()
    assert parse_raw_log(log.encode()) == log
    assert orjson.loads(log.encode()) == valid()


def test_parse_lowercases_hex_fields() -> None:
    upper = valid(address="0x" + "AB" * 20, topics=["0x" + "1A" * 32], data="0xABCD",
                  block_hash="0x" + "CC" * 32, transaction_hash="0x" + "DD" * 32)
    log = parse_raw_log(orjson.dumps(upper))
    assert log.address == ADDRESS
    assert log.topics == ("0x" + "1a" * 32,)
    assert log.data == "0xabcd"
    assert log.block_hash == "0x" + "cc" * 32 and log.transaction_hash == "0x" + "dd" * 32


def test_removed_true_and_big_numbers_survive() -> None:
    log = parse_raw_log(orjson.dumps(valid(removed=True, block_number=2**40, log_index=70000)))
    assert log.removed is True and log.cursor == (2**40, 70000)


def _without(name: str) -> bytes:
    d = valid()
    del d[name]
    return orjson.dumps(d)


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"{", "not JSON"),
        (b"", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'"text"', "not a JSON object"),
        (b"null", "not a JSON object"),
        (b"{}", "lacks chain_id, address, topics"),
        (_without("block_hash"), "lacks block_hash"),
        (_without("removed"), "lacks removed"),
        (orjson.dumps(valid(topics=[])), "no topics"),
        (orjson.dumps(valid(topics=TOPIC)), "no topics"),
        (orjson.dumps(valid(topics=None)), "no topics"),
        (orjson.dumps(valid(topics=[TOPIC, 5])), "'topics'"),
        (orjson.dumps(valid(removed="false")), "'removed' is not a boolean"),
        (orjson.dumps(valid(removed=0)), "'removed' is not a boolean"),
        (orjson.dumps(valid(removed=None)), "'removed' is not a boolean"),
        (orjson.dumps(valid(block_number=-1)), "'block_number' is not a non-negative integer"),
        (orjson.dumps(valid(block_number=True)), "'block_number' is not a non-negative integer"),
        (orjson.dumps(valid(block_number=False)), "'block_number' is not a non-negative integer"),
        (orjson.dumps(valid(block_number="12")), "'block_number' is not a non-negative integer"),
        (orjson.dumps(valid(block_number=12.0)), "'block_number' is not a non-negative integer"),
        (orjson.dumps(valid(chain_id="31337")), "'chain_id'"),
        (orjson.dumps(valid(log_index=-3)), "'log_index'"),
        (orjson.dumps(valid(transaction_index=None)), "'transaction_index'"),
        (orjson.dumps(valid(block_timestamp=-1)), "'block_timestamp'"),
        (orjson.dumps(valid(address="ab" * 20)), "'address' is not a 0x-hex string"),
        (orjson.dumps(valid(address=None)), "'address'"),
        (orjson.dumps(valid(data=1234)), "'data'"),
        (orjson.dumps(valid(block_hash="22" * 32)), "'block_hash'"),
        (orjson.dumps(valid(transaction_hash=["0x"])), "'transaction_hash'"),
    ],
)
def test_malformed_raw_log(payload: bytes, fragment: str) -> None:
    with pytest.raises(DecodeError) as exc_info:
        parse_raw_log(payload)
    assert fragment in str(exc_info.value)


@pytest.mark.parametrize("field", ["address", "block_hash", "transaction_hash"])
def test_non_hex_digits_after_prefix_are_rejected(field: str) -> None:
    with pytest.raises(DecodeError, match=field):
        parse_raw_log(orjson.dumps(valid(**{field: "0xnot-hex-at-all"})))


def test_rule_records_are_told_apart_from_chain_data() -> None:
    from pads_stream.alerts.rules import deletion_record, parse_rule

    rule = parse_rule({"type": "large_trade", "value": "1"}, owner="alice", rule_id="r_" + "a" * 32, created_at=0,
                      windows=(300,))
    assert is_rule_record(rule.raw_record(1)) and is_rule_record(deletion_record(rule.id, 1))
    assert not is_rule_record(HeadMarker(1, 5, "0x" + "ab" * 32, 2, 100).encode())
