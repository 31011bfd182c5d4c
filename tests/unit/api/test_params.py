from __future__ import annotations

import pytest

from pads_stream.api import params
from pads_stream.api.errors import ApiError, BadRequest

INTERVALS = (60, 300, 900, 3600, 14400, 86400)
ADDR = "0x" + "Ab" * 20


@pytest.mark.parametrize("value, expected", [
    (ADDR, ADDR.lower()),
    ("0x" + "0" * 40, "0x" + "0" * 40),
])
def test_token_accepts_addresses_and_lowercases(value: str, expected: str) -> None:
    assert params.token(value) == expected


@pytest.mark.parametrize("value", [None, "", "0x", "0x" + "a" * 39, "0x" + "a" * 41, "a" * 42, "0x" + "g" * 40,
                                   " 0x" + "a" * 40, "0X" + "a" * 40])
def test_token_refuses_anything_else_naming_the_parameter(value: str | None) -> None:
    with pytest.raises(BadRequest) as e:
        params.token(value, "symbol")
    assert e.value.param == "symbol" and e.value.message.startswith("symbol:")
    assert e.value.status == 400 and isinstance(e.value, ApiError)


@pytest.mark.parametrize("value, lo, hi, expected", [
    (None, 0, None, None), ("0", 0, None, 0), ("42", 1, 500, 42), ("500", 1, 500, 500), ("-5", None, None, -5),
    (" 7 ", 0, 10, 7),
])
def test_integer_in_range(value: str | None, lo: int | None, hi: int | None, expected: int | None) -> None:
    assert params.integer(value, "limit", lo, hi) == expected


@pytest.mark.parametrize("value, lo, hi, fragment", [
    ("abc", 0, None, "expected an integer"), ("1.5", 0, None, "expected an integer"), ("", 0, None, "integer"),
    ("1e3", 0, None, "integer"), ("0", 1, 500, "at least 1"), ("501", 1, 500, "at most 500"),
    ("9" * 30, 0, None, "integer"), ("-1", 0, None, "at least 0"),
])
def test_integer_refusals_name_the_parameter(value: str, lo: int | None, hi: int | None, fragment: str) -> None:
    with pytest.raises(BadRequest) as e:
        params.integer(value, "limit", lo, hi)
    assert e.value.param == "limit" and fragment in e.value.message


@pytest.mark.parametrize("value, expected", [
    (None, False), ("true", True), ("1", True), ("TRUE", True), ("false", False), ("0", False), ("", False),
])
def test_boolean(value: str | None, expected: bool) -> None:
    assert params.boolean(value, "fill") is expected


def test_boolean_refuses_other_words() -> None:
    with pytest.raises(BadRequest, match="fill: expected true or false"):
        params.boolean("maybe", "fill")


@pytest.mark.parametrize("value, seconds", [("1m", 60), ("5m", 300), ("1h", 3600), ("4h", 14400), ("1d", 86400)])
def test_interval_labels_of_the_configured_intervals(value: str, seconds: int) -> None:
    assert params.interval(value, INTERVALS) == seconds


@pytest.mark.parametrize("value, fragment", [
    (None, "required"), ("2m", "is not one of 1m, 5m, 15m, 1h, 4h, 1d"), ("60", "not one of"), ("1w", "not one of"),
])
def test_interval_refusals(value: str | None, fragment: str) -> None:
    with pytest.raises(BadRequest) as e:
        params.interval(value, INTERVALS)
    assert e.value.param == "interval" and fragment in e.value.message


def test_choice_and_long_values_are_cut_in_messages() -> None:
    assert params.choice(None, "sort", ("created", "graduated"), "created") == "created"
    with pytest.raises(BadRequest) as e:
        params.choice("x" * 500, "sort", ("created",), "created")
    assert len(e.value.message) < 150 and e.value.param == "sort"
