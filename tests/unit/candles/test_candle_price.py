"""Exact prices: ETH per token at 30 significant digits, ROUND_HALF_EVEN, plain notation."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from pads_stream.candles.price import format_price, parse_price, trade_price

PLAIN = re.compile(r"^(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$")
E18 = 10**18


@pytest.mark.parametrize(
    ("eth", "tok", "expected"),
    [
        (1, 3, "0." + "3" * 30),
        (2, 3, "0." + "6" * 29 + "7"),
        (100, 1, "100"),
        (10**20, E18, "100"),
        (28, 10**9, "0.000000028"),
        (0, 1, "0"),
        (0, 10**27, "0"),
        (1, 1, "1"),
        (3, 2, "1.5"),
        (15, 10, "1.5"),
        (1, 10**30, "0." + "0" * 29 + "1"),
        (1, 10**60, "0." + "0" * 59 + "1"),
        (10**40, 1, "1" + "0" * 40),
        (10**22, 1, "1" + "0" * 22),
        (10**30 - 1, 1, "9" * 30),
        # 31 nines round up to a power of ten: no exponent, no trailing dot
        (10**31 - 1, 1, "1" + "0" * 31),
        (10**31 - 1, 10**31, "1"),
        # 1/7 has a repeating expansion: 30 significant digits, last one rounded
        (1, 7, "0.142857142857142857142857142857"),
        (10**18, 7 * 10**18, "0.142857142857142857142857142857"),
        (22, 7, "3.14285714285714285714285714286"),
        # realistic: 0.5 ETH for 12_345_678 tokens
        (5 * 10**17, 12_345_678 * E18, "0.0000000405000033210002723220223304058"),
    ],
)
def test_trade_price_formatting(eth: int, tok: int, expected: str) -> None:
    text = format_price(trade_price(eth, tok))
    assert text == expected
    assert PLAIN.match(text), text
    assert "e" not in text.lower()


@pytest.mark.parametrize(
    ("eth", "tok", "expected"),
    [
        # exactly half at the 31st significant digit: round to the even 30th digit
        (10**30 + 5, 10**31, "0.1"),                      # ...0|5 -> ...0 (even, down)
        (10**30 + 15, 10**31, "0.1" + "0" * 28 + "2"),    # ...1|5 -> ...2 (even, up)
        (10**30 + 25, 10**31, "0.1" + "0" * 28 + "2"),    # ...2|5 -> ...2 (even, down)
        (10**30 + 35, 10**31, "0.1" + "0" * 28 + "4"),    # ...3|5 -> ...4 (even, up)
        # just above half always rounds up
        (10**31 + 51, 10**32, "0.1" + "0" * 28 + "1"),    # ...0|51 -> ...1
        # just below half always rounds down
        (10**31 + 49, 10**32, "0.1"),
        # half-even on an integer result
        (10**30 + 5, 1, "1" + "0" * 30),
        (10**30 + 15, 1, "1" + "0" * 28 + "20"),
    ],
)
def test_round_half_even_at_30th_significant_digit(eth: int, tok: int, expected: str) -> None:
    assert format_price(trade_price(eth, tok)) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1.500"), "1.5"),
        (Decimal("100.000"), "100"),
        (Decimal("1E+2"), "100"),
        (Decimal("1.0E-5"), "0.00001"),
        (Decimal("0E-30"), "0"),
        (Decimal("-0"), "0"),
        (Decimal("0.000"), "0"),
        (Decimal("12.340"), "12.34"),
        (Decimal("1" * 35), "1" * 30 + "00000"),
    ],
)
def test_format_price_plain_notation(value: Decimal, expected: str) -> None:
    text = format_price(value)
    assert text == expected
    assert not text.endswith(".")
    assert "E" not in text and "e" not in text


@pytest.mark.parametrize("tok", [0, -1, -(10**18)])
def test_non_positive_token_amount_raises(tok: int) -> None:
    with pytest.raises(ValueError, match="token amount must be positive"):
        trade_price(10**18, tok)


@pytest.mark.parametrize("eth,tok", [(1, 3), (28, 10**9), (10**40, 1), (1, 10**30), (10**30 + 15, 10**31)])
def test_parse_price_round_trips(eth: int, tok: int) -> None:
    price = trade_price(eth, tok)
    assert parse_price(format_price(price)) == price
    assert format_price(parse_price(format_price(price))) == format_price(price)


@pytest.mark.parametrize("first,second,expected", [
    (Decimal("1.500"), Decimal("1.5"), "1.5"),
    (Decimal("1E+2"), Decimal("100"), "100"),
    (Decimal("0E-30"), Decimal("0"), "0"),
])
def test_formatting_is_cached_by_value_not_by_spelling(first: Decimal, second: Decimal, expected: str) -> None:
    format_price.cache_clear()
    assert format_price(first) == expected
    assert format_price(second) == expected  # a cache hit on the equal value
    assert format_price.cache_info().hits == 1
