from __future__ import annotations

import orjson
import pytest

from pads_stream.api import udf
from pads_stream.api.errors import BadRequest

INTERVALS = (15, 60, 300, 900, 3600, 14400, 86400)


@pytest.mark.parametrize("seconds, res", [(1, "1S"), (15, "15S"), (30, "30S"), (60, "1"), (300, "5"), (900, "15"),
                                          (3600, "60"), (14400, "240"), (86400, "1D"), (7 * 86400, "7D")])
def test_resolution_names(seconds: int, res: str) -> None:
    assert udf.resolution(seconds) == res
    assert udf.parse_resolution(res, (seconds,)) == seconds


@pytest.mark.parametrize("value, seconds", [("D", 86400), ("1d", 86400), ("15s", 15), (" 60 ", 3600)])
def test_resolution_aliases(value: str, seconds: int) -> None:
    assert udf.parse_resolution(value, INTERVALS) == seconds


def test_week_is_seven_days_when_configured() -> None:
    assert udf.parse_resolution("1W", (60, 7 * 86400)) == 7 * 86400


@pytest.mark.parametrize("value", [None, "2", "1W", "abc", "120"])
def test_unknown_resolutions_are_400_naming_resolution(value: str | None) -> None:
    with pytest.raises(BadRequest) as e:
        udf.parse_resolution(value, INTERVALS)
    assert e.value.param == "resolution"


def test_config_lists_the_configured_resolutions() -> None:
    cfg = udf.config(INTERVALS)
    assert cfg["supported_resolutions"] == ["15S", "1", "5", "15", "60", "240", "1D"]
    assert cfg["supports_search"] and cfg["supports_marks"] and cfg["supports_time"]
    assert not cfg["supports_group_request"]


@pytest.mark.parametrize("price, scale", [
    ("0.0000000285610627629160932059645988969", 10**13),  # 6 significant digits: 2.85611e-8
    ("1", 10**5), ("123.456", 10**3), ("123456789", 1), ("0.5", 10**6),
    ("0.000000000000001", 10**18),  # capped at 10**18
    (None, 10**10), ("", 10**10), ("0", 10**10), ("nonsense", 10**10),
])
def test_pricescale_fits_the_price(price: str | None, scale: int) -> None:
    assert udf.pricescale(price) == scale


def test_symbol_info() -> None:
    info = udf.symbol_info("0xabc", {"symbol": "PEPE", "name": "Pepe <b>", "price": "0.00002"}, INTERVALS)
    assert info["name"] == "PEPE" and info["ticker"] == "0xabc" and info["description"] == "Pepe <b>"
    assert info["has_seconds"] and info["has_intraday"] and info["has_daily"]
    assert info["seconds_multipliers"] == ["15"] and info["intraday_multipliers"] == ["1", "5", "15", "60", "240"]
    assert info["pricescale"] == 10**10 and info["session"] == "24x7" and info["timezone"] == "Etc/UTC"
    minutes = udf.symbol_info("0xabc", {}, (60, 3600))
    assert not minutes["has_seconds"] and not minutes["has_daily"] and minutes["name"] == "0xabc"


def member(t: int, o: str, h: str, lo: str, c: str, vol: str) -> bytes:
    return orjson.dumps({"t": t, "open": o, "high": h, "low": lo, "close": c, "volume_token": vol,
                         "volume_eth": "1", "trades": 1, "buys": 1, "sells": 0, "final": True},
                        option=orjson.OPT_SORT_KEYS)


def test_history_columns_are_floats_and_whole_tokens() -> None:
    rows = [member(60, "0.0000000285610627629160932059645988969", "0.00000003", "0.00000002", "0.000000025",
                   "14016270249159435668433262"),
            member(120, "1", "2", "0.5", "1.5", "1000000000000000000")]
    out = orjson.loads(orjson.dumps(udf.history(rows, None)))  # columns go out as JSON arrays
    assert out == {"s": "ok", "t": [60, 120], "o": [2.85610627629160932059645988969e-8, 1.0],
                   "h": [3e-8, 2.0], "l": [2e-8, 0.5], "c": [2.5e-8, 1.5], "v": [14016270.249159435668433262, 1.0]}
    # the precision limit: a double keeps about 16 of the 30 significant digits
    assert repr(out["o"][0]) == "2.8561062762916094e-08"  # 17 digits, the rest lost


def test_history_memoizes_bars_by_member_bytes() -> None:
    rows = [member(60, "1", "2", "0.5", "1.5", "0")]
    first = udf.history(rows, None)
    changed = [member(60, "1", "3", "0.5", "2.5", "0")]  # the same bucket corrected: another member
    assert udf.history(rows, None) == first and udf.history(changed, None)["c"] == (2.5,)


@pytest.mark.parametrize("next_time, expected", [(None, {"s": "no_data"}), (60, {"s": "no_data", "nextTime": 60})])
def test_history_without_bars(next_time: int | None, expected: dict[str, object]) -> None:
    assert udf.history([], next_time) == expected


def test_marks_sit_on_bar_starts_within_the_range() -> None:
    market = {"created_at": "1000", "graduated": "1", "graduated_at": "7300"}
    m = udf.marks(market, 3600, 0, 10_000)
    assert m["time"] == [0, 7200] and m["label"] == ["C", "G"] and m["id"] == ["created", "graduated"]
    assert udf.marks(market, 3600, 3600, 10_000)["time"] == [7200]
    assert udf.marks({}, 60, 0, 10)["time"] == []
