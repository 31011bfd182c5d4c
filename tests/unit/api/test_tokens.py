from __future__ import annotations

import pytest

from pads_stream.api.errors import BadRequest
from pads_stream.api.tokens import decode_cursor, encode_cursor, page


def addr(i: int) -> str:
    return f"0x{i:040x}"


DIRECTORY = {
    addr(1): {"created_at": "100", "created_block": "1", "symbol": "A"},
    addr(2): {"created_at": "300", "created_block": "3", "symbol": "B", "graduated": "1", "graduated_at": "900",
              "graduated_block": "9"},
    addr(3): {"created_at": "300", "created_block": "4", "symbol": "C"},
    addr(4): {"created_at": "200", "created_block": "2", "symbol": "D", "graduated": "1", "graduated_at": "950",
              "graduated_block": "10"},
    addr(5): {"price": "1"},  # no CurveCreated seen: listed last
}


def test_created_is_newest_first_and_pages_with_cursors() -> None:
    seen = []
    cursor = None
    while True:
        items, cursor = page(DIRECTORY, "created", 2, cursor)
        seen += [i["token"] for i in items]
        if cursor is None:
            break
    assert seen == [addr(3), addr(2), addr(4), addr(1), addr(5)]


def test_page_carries_the_market_snapshot() -> None:
    items, nxt = page(DIRECTORY, "created", 10, None)
    assert items[0] == {"token": addr(3), "market": DIRECTORY[addr(3)]} and nxt is None


def test_graduated_lists_only_graduated_tokens_latest_first() -> None:
    items, nxt = page(DIRECTORY, "graduated", 10, None)
    assert [i["token"] for i in items] == [addr(4), addr(2)] and nxt is None


RANKED = {
    addr(1): {"created_at": "100", "volume_eth_24h": "5", "market_cap_eth": "10.5", "curve_progress": "20"},
    addr(2): {"created_at": "300", "volume_eth_24h": "900000000000000000000000", "market_cap_eth": "10.25",
              "curve_progress": "100", "graduated": "1"},
    addr(3): {"created_at": "200", "volume_eth_24h": "5", "curve_progress": "0"},  # never traded: no market cap
}


@pytest.mark.parametrize(("sort", "order"), [
    ("volume_24h", [addr(2), addr(3), addr(1)]),  # ties: the newer token first
    ("market_cap", [addr(1), addr(2)]),  # exact decimals, only tokens that traded
    ("progress", [addr(1), addr(3)]),  # only tokens still on their curve
])
def test_rankings_from_the_market_fields(sort: str, order: list[str]) -> None:
    assert [i["token"] for i in page(RANKED, sort, 10, None)[0]] == order
    first, cursor = page(RANKED, sort, 1, None)
    assert cursor is not None and [i["token"] for i in page(RANKED, sort, 10, cursor)[0]] == order[1:]


def test_unknown_sort_is_400() -> None:
    with pytest.raises(BadRequest) as e:
        page(DIRECTORY, "hot", 10, None)
    assert e.value.param == "sort"


@pytest.mark.parametrize("cursor", ["x", "1.2", "1.2.0xZZ", "1.2." + "0x" + "A" * 40, ""])
def test_bad_cursors(cursor: str) -> None:
    if cursor == "":
        assert page(DIRECTORY, "created", 1, cursor)[0]  # an empty cursor is the first page
        return
    with pytest.raises(BadRequest) as e:
        page(DIRECTORY, "created", 1, cursor)
    assert e.value.param == "cursor"


def test_cursor_round_trip() -> None:
    key = (-300, -4, addr(3))
    assert decode_cursor(encode_cursor(key)) == key
