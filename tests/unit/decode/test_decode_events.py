"""ABI decoding of the launchpad events from hand-built logs, cross-checked against eth_abi,
and malformed logs."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from eth_abi import encode as abi_encode
from eth_utils import event_abi_to_log_topic

from pads_stream.chain.rawlog import parse_raw_log
from pads_stream.decode.abi import (
    CURVE_CREATED_TOPIC,
    GRADUATED_TOPIC,
    NAME_MAX,
    SYMBOL_MAX,
    TRADE_TOPIC,
    dynamic_string,
    topic_address,
    word_bool,
    words,
)
from pads_stream.decode.events import (
    CurveCreatedEvent,
    GraduatedEvent,
    LogRef,
    TradeEvent,
    decode_log,
)
from pads_stream.errors import DecodeError

TOKEN = "0x" + "a1" * 20
TRADER = "0x" + "b2" * 20
CURVE = "0x" + "c3" * 20
CREATOR = "0x" + "d4" * 20
UNKNOWN_TOPIC = "0x" + "ee" * 32

# Events as the Solidity sources declare them (contracts/src), in ABI JSON form.
TRADE_ABI = {"type": "event", "name": "Trade", "anonymous": False, "inputs": [
    {"name": "token", "type": "address", "indexed": True},
    {"name": "trader", "type": "address", "indexed": True},
    {"name": "isBuy", "type": "bool", "indexed": False},
    {"name": "tokenAmount", "type": "uint256", "indexed": False},
    {"name": "ethAmount", "type": "uint256", "indexed": False},
    {"name": "virtualEthReserves", "type": "uint256", "indexed": False},
    {"name": "virtualTokenReserves", "type": "uint256", "indexed": False},
]}
CURVE_CREATED_ABI = {"type": "event", "name": "CurveCreated", "anonymous": False, "inputs": [
    {"name": "token", "type": "address", "indexed": True},
    {"name": "curve", "type": "address", "indexed": True},
    {"name": "creator", "type": "address", "indexed": True},
    {"name": "name", "type": "string", "indexed": False},
    {"name": "symbol", "type": "string", "indexed": False},
]}
GRADUATED_ABI = {"type": "event", "name": "Graduated", "anonymous": False, "inputs": [
    {"name": "token", "type": "address", "indexed": True},
    {"name": "ethReserves", "type": "uint256", "indexed": False},
    {"name": "tokenReserves", "type": "uint256", "indexed": False},
]}


def data_types(abi: dict[str, Any]) -> list[str]:
    return [i["type"] for i in abi["inputs"] if not i["indexed"]]


# --------------------------------------------------------------------------- hand-built ABI

def word(n: int) -> bytes:
    return n.to_bytes(32, "big")


def padded(b: bytes) -> bytes:
    return b + b"\x00" * (-len(b) % 32)


def string_tail(raw: bytes) -> bytes:
    return word(len(raw)) + padded(raw)


def two_strings(a: bytes, b: bytes) -> bytes:
    """(string, string): two head offsets, then length-prefixed, zero-padded tails."""
    tail_a = string_tail(a)
    return word(64) + word(64 + len(tail_a)) + tail_a + string_tail(b)


def addr_topic(address: str) -> str:
    return "0x" + "00" * 12 + address[2:]


def hx(b: bytes) -> str:
    return "0x" + b.hex()


def trade_data(is_buy: int, tok: int, eth: int, veth: int, vtok: int) -> bytes:
    return word(is_buy) + word(tok) + word(eth) + word(veth) + word(vtok)


def raw(topics: list[str], data: bytes | str, **overrides: Any) -> bytes:
    d: dict[str, Any] = {
        "chain_id": 8453, "address": CURVE, "topics": topics,
        "data": data if isinstance(data, str) else hx(data),
        "block_number": 19_000_000, "block_hash": "0x" + "42" * 32, "block_timestamp": 1_717_171_717,
        "transaction_hash": "0x" + "43" * 32, "transaction_index": 7, "log_index": 12, "removed": False,
    }
    d.update(overrides)
    return orjson.dumps(d)


def decode(payload: bytes) -> Any:
    return decode_log(parse_raw_log(payload))


# --------------------------------------------------------------------------- test vectors are right

@pytest.mark.parametrize(
    ("abi", "topic"),
    [(TRADE_ABI, TRADE_TOPIC), (CURVE_CREATED_ABI, CURVE_CREATED_TOPIC), (GRADUATED_ABI, GRADUATED_TOPIC)],
)
def test_topic_hashes_match_event_abi(abi: dict[str, Any], topic: str) -> None:
    assert topic == "0x" + event_abi_to_log_topic(abi).hex()
    assert len(topic) == 66 and topic == topic.lower()


@pytest.mark.parametrize(
    "values",
    [(1, 10**18, 10**15, 30 * 10**18, 10**27), (0, 1, 0, 0, 0), (1, 2**256 - 1, 2**255, 2**64, 2**64 + 1)],
)
def test_hand_built_trade_data_matches_eth_abi(values: tuple[int, ...]) -> None:
    is_buy, *rest = values
    assert trade_data(*values) == abi_encode(data_types(TRADE_ABI), [bool(is_buy), *rest])


@pytest.mark.parametrize(
    ("name", "symbol"),
    [("Pepe \U0001f438", "PEPE"), ("", ""), ("x" * 32, "y" * 33), ("Ünïcødé " * 9, "€"), ("a", "b" * 64)],
)
def test_hand_built_strings_match_eth_abi(name: str, symbol: str) -> None:
    assert two_strings(name.encode(), symbol.encode()) == abi_encode(data_types(CURVE_CREATED_ABI), [name, symbol])


def test_hand_built_graduated_data_matches_eth_abi() -> None:
    assert word(5 * 10**18) + word(2**200) == abi_encode(data_types(GRADUATED_ABI), [5 * 10**18, 2**200])


# --------------------------------------------------------------------------- well-formed logs

@pytest.mark.parametrize(
    ("is_buy", "tok", "eth", "veth", "vtok"),
    [
        (1, 10**18, 10**15, 30 * 10**18, 10**27),
        (0, 123_456_789 * 10**18, 0, 1, 2),
        (1, 2**256 - 1, 2**256 - 1, 2**128, 2**64 + 1),
        (0, 1, 10**22, 0, 0),
    ],
)
def test_decode_trade(is_buy: int, tok: int, eth: int, veth: int, vtok: int) -> None:
    payload = raw([TRADE_TOPIC, addr_topic(TOKEN), addr_topic(TRADER)], trade_data(is_buy, tok, eth, veth, vtok))
    ev = decode(payload)
    assert isinstance(ev, TradeEvent)
    assert (ev.token, ev.trader, ev.is_buy) == (TOKEN, TRADER, bool(is_buy))
    assert (ev.token_amount, ev.eth_amount, ev.virtual_eth, ev.virtual_token) == (tok, eth, veth, vtok)
    assert ev.kind == "trade"
    assert ev.ref == LogRef(8453, CURVE, 19_000_000, "0x" + "42" * 32, 1_717_171_717, "0x" + "43" * 32, 12, False)
    assert ev.ref.cursor == (19_000_000, 12)


def test_decode_trade_from_eth_abi_encoding_with_checksum_case_topics() -> None:
    data = abi_encode(data_types(TRADE_ABI), [True, 5, 7, 11, 13])
    topics = [TRADE_TOPIC.upper().replace("0X", "0x"), addr_topic("0x" + "A1" * 20), addr_topic("0x" + "B2" * 20)]
    ev = decode(raw(topics, hx(data).upper().replace("0X", "0x"), removed=True))
    assert (ev.token, ev.trader, ev.is_buy, ev.token_amount, ev.eth_amount) == (TOKEN, TRADER, True, 5, 7)
    assert ev.ref.removed is True


def test_trade_with_extra_trailing_data_is_accepted() -> None:
    ev = decode(raw([TRADE_TOPIC, addr_topic(TOKEN), addr_topic(TRADER)], trade_data(1, 2, 3, 4, 5) + word(99)))
    assert (ev.token_amount, ev.virtual_token) == (2, 5)


@pytest.mark.parametrize(
    ("name", "symbol"),
    [("Pepe \U0001f438", "PEPE"), ("Doge Coin", "DOGE"), ("", "E"), ("名前" * 20, "😀" * 9)],
)
def test_decode_curve_created(name: str, symbol: str) -> None:
    data = two_strings(name.encode(), symbol.encode())
    ev = decode(raw([CURVE_CREATED_TOPIC, addr_topic(TOKEN), addr_topic(CURVE), addr_topic(CREATOR)], data,
                    address="0x" + "fa" * 20))
    assert isinstance(ev, CurveCreatedEvent)
    assert (ev.token, ev.curve, ev.creator, ev.name, ev.symbol) == (TOKEN, CURVE, CREATOR, name, symbol)
    assert ev.ref.contract == "0x" + "fa" * 20 and ev.kind == "curve_created"


def test_decode_curve_created_with_reversed_string_order() -> None:
    """Offsets are followed, not assumed: symbol's tail may come before name's."""
    sym, name = string_tail(b"SYM"), string_tail(b"A longer name")
    data = word(64 + len(sym)) + word(64) + sym + name
    ev = decode(raw([CURVE_CREATED_TOPIC, addr_topic(TOKEN), addr_topic(CURVE), addr_topic(CREATOR)], data))
    assert (ev.name, ev.symbol) == ("A longer name", "SYM")


def test_decode_graduated() -> None:
    ev = decode(raw([GRADUATED_TOPIC, addr_topic(TOKEN)], word(85 * 10**17) + word(2**70)))
    assert isinstance(ev, GraduatedEvent)
    assert (ev.token, ev.eth_reserves, ev.token_reserves, ev.kind) == (TOKEN, 85 * 10**17, 2**70, "graduated")


# --------------------------------------------------------------------------- malformed logs

TRADE_TOPICS = [TRADE_TOPIC, addr_topic(TOKEN), addr_topic(TRADER)]
CC_TOPICS = [CURVE_CREATED_TOPIC, addr_topic(TOKEN), addr_topic(CURVE), addr_topic(CREATOR)]
GOOD_TRADE = trade_data(1, 10, 20, 30, 40)
DIRTY_ADDRESS = "0x" + "00" * 11 + "01" + "a1" * 20


def _truncated_string() -> bytes:
    good = two_strings(b"Pepe", b"PEPE")
    return good[:-32]  # the symbol's padded body is cut off


MALFORMED: list[tuple[str, bytes, str]] = [
    # parse level
    ("not json", b"not json", "not JSON"),
    ("json array", b'["a"]', "not a JSON object"),
    ("missing fields", b'{"chain_id": 1, "address": "0x00"}', "lacks topics, data"),
    ("topics empty", raw([], GOOD_TRADE), "no topics"),
    ("negative block", raw(TRADE_TOPICS, GOOD_TRADE, block_number=-5), "'block_number'"),
    ("bool block", raw(TRADE_TOPICS, GOOD_TRADE, block_number=True), "'block_number'"),
    ("removed not bool", raw(TRADE_TOPICS, GOOD_TRADE, removed="no"), "'removed' is not a boolean"),
    ("removed int", raw(TRADE_TOPICS, GOOD_TRADE, removed=1), "'removed' is not a boolean"),
    ("data without 0x", raw(TRADE_TOPICS, GOOD_TRADE.hex()), "'data' is not a 0x-hex string"),
    # data encoding
    ("non-hex data", raw(TRADE_TOPICS, "0x" + "zz" * 160), "'data' is not a 0x-hex string"),
    ("whitespace in data", raw(TRADE_TOPICS, "0x00 11"), "'data' is not a 0x-hex string"),
    ("odd-length data", raw(TRADE_TOPICS, "0x" + "0" * 319), "not valid hex"),
    ("trade data too short", raw(TRADE_TOPICS, GOOD_TRADE[:-1]), "data has 159 bytes, expected at least 160"),
    ("trade data empty", raw(TRADE_TOPICS, "0x"), "data has 0 bytes, expected at least 160"),
    ("graduated data too short", raw([GRADUATED_TOPIC, addr_topic(TOKEN)], word(1)), "expected at least 64"),
    ("curve data too short", raw(CC_TOPICS, word(64)), "expected at least 64"),
    # topics
    ("trade 2 topics", raw(TRADE_TOPICS[:2], GOOD_TRADE), "expected 3 topics"),
    ("trade 4 topics", raw(TRADE_TOPICS + [addr_topic(CURVE)], GOOD_TRADE), "got 4"),
    ("curve 3 topics", raw(CC_TOPICS[:3], two_strings(b"a", b"b")), "expected 4 topics"),
    ("graduated 1 topic", raw([GRADUATED_TOPIC], word(1) + word(2)), "expected 2 topics"),
    ("graduated 3 topics", raw([GRADUATED_TOPIC, addr_topic(TOKEN), addr_topic(TOKEN)], word(1) + word(2)),
     "expected 2 topics"),
    ("dirty token topic", raw([TRADE_TOPIC, DIRTY_ADDRESS, addr_topic(TRADER)], GOOD_TRADE),
     "is not a left-padded address"),
    ("dirty trader topic", raw([TRADE_TOPIC, addr_topic(TOKEN), "0x" + "ff" * 32], GOOD_TRADE),
     "is not a left-padded address"),
    ("dirty creator topic", raw(CC_TOPICS[:3] + [DIRTY_ADDRESS], two_strings(b"a", b"b")),
     "is not a left-padded address"),
    ("short address topic", raw([TRADE_TOPIC, TOKEN, addr_topic(TRADER)], GOOD_TRADE), "is not 32 bytes"),
    ("unknown topic0", raw([UNKNOWN_TOPIC, addr_topic(TOKEN)], GOOD_TRADE), f"unknown event topic {UNKNOWN_TOPIC}"),
    ("transfer topic0", raw(["0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"], b""),
     "unknown event topic"),
    # values
    ("bool word 2", raw(TRADE_TOPICS, trade_data(2, 10, 20, 30, 40)), "bool word holds 2"),
    ("bool word huge", raw(TRADE_TOPICS, trade_data(2**255, 10, 20, 30, 40)), "bool word holds"),
    ("zero token amount", raw(TRADE_TOPICS, trade_data(1, 0, 20, 30, 40)), "zero token amount"),
    # dynamic strings
    ("string offset out of bounds", raw(CC_TOPICS, word(64) + word(4096) + string_tail(b"a")),
     "string offset 4096 beyond data"),
    ("string offset 2**256-1", raw(CC_TOPICS, word(2**256 - 1) + word(64) + string_tail(b"a")),
     "beyond data"),
    ("string offset at end", raw(CC_TOPICS, word(64) + word(64)), "string offset 64 beyond data of 64 bytes"),
    ("string length overrun", raw(CC_TOPICS, word(64) + word(64) + word(33) + padded(b"x" * 32)),
     "string of 33 bytes at 64 overruns data"),
    ("string length huge", raw(CC_TOPICS, word(64) + word(64) + word(2**255)), "overruns data"),
    ("truncated second string", raw(CC_TOPICS, _truncated_string()), "overruns data"),
]


@pytest.mark.parametrize(("name", "symbol", "shown_name", "shown_symbol"), [
    # (name bytes, symbol bytes) -> what every reader gets: plain text, bounded
    (b"\xff\xfeX", b"OK", "\ufffd\ufffdX", "OK"),  # not UTF-8: replaced, never dead-lettered
    ("🐸".encode()[:3] + b"A", b"\xc0\x80", "\ufffdA", "\ufffd\ufffd"),
    (b"<script>alert(1)</script>", b"XSS", "<script>alert(1)</script>", "XSS"),  # text: readers escape
    (b"Pe\x00pe\x1b[31m\n", b"P\x7fE", "Pepe[31m", "PE"),  # control characters dropped
    ("a\u202eevil\u200b".encode(), "\ufeffSYM".encode(), "aevil", "SYM"),  # bidi override, zero-width, BOM
    ("  Pepe 🐸  ".encode(), b" PEPE ", "Pepe 🐸", "PEPE"),  # trimmed; emoji kept
    (b"N" * 100_000, b"S" * 100, "N" * NAME_MAX, "S" * SYMBOL_MAX),  # bounded, in code points
    (("é" * 63 + " x").encode(), b"s", "é" * 63, "s"),  # cut at 64, then no trailing space
])
def test_names_and_symbols_are_bounded_plain_text(name: bytes, symbol: bytes, shown_name: str,
                                                   shown_symbol: str) -> None:
    ev = decode(raw(CC_TOPICS, two_strings(name, symbol)))
    assert isinstance(ev, CurveCreatedEvent)
    assert (ev.name, ev.symbol) == (shown_name, shown_symbol)


@pytest.mark.parametrize(("payload", "fragment"), [(p, f) for _, p, f in MALFORMED],
                         ids=[name for name, _, _ in MALFORMED])
def test_malformed_log_raises_decode_error(payload: bytes, fragment: str) -> None:
    with pytest.raises(DecodeError) as exc_info:
        decode(payload)
    assert fragment in str(exc_info.value)


def test_non_hex_address_topic_is_rejected() -> None:
    bad = "0x" + "00" * 12 + "zz" * 20
    with pytest.raises(DecodeError):
        decode(raw([TRADE_TOPIC, bad, addr_topic(TRADER)], GOOD_TRADE))


# --------------------------------------------------------------------------- abi helpers

@pytest.mark.parametrize(("value", "expected"), [(0, False), (1, True)])
def test_word_bool(value: int, expected: bool) -> None:
    assert word_bool(value) is expected


def test_words_and_topic_address() -> None:
    assert words(word(1) + word(2**256 - 1) + b"\x01", 2) == [1, 2**256 - 1]
    assert words(b"", 0) == []
    assert topic_address(addr_topic(TOKEN)) == TOKEN
    assert topic_address("0x" + "00" * 32) == "0x" + "00" * 20
    assert dynamic_string(string_tail(b"hi"), 0) == "hi"
