"""Interval parsing, labels, and UTC-aligned bucketing at the edges of each interval."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pads_stream.candles.intervals import bucket_start, label, parse_interval, parse_intervals
from pads_stream.errors import ConfigError


def utc(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())


DAY = 86400
ALL = (60, 300, 900, 3600, 14400, 86400)


@pytest.mark.parametrize(
    ("ts", "seconds", "expected"),
    [
        # 1m edges
        (0, 60, 0),
        (59, 60, 0),
        (60, 60, 60),
        (61, 60, 60),
        (119, 60, 60),
        (120, 60, 120),
        # 5m / 15m / 1h edges
        (299, 300, 0),
        (300, 300, 300),
        (899, 900, 0),
        (900, 900, 900),
        (3599, 3600, 0),
        (3600, 3600, 3600),
        # 4h: UTC-aligned at 00:00, 04:00, 08:00, ...
        (utc(2024, 1, 1, 0, 0, 0), 14400, utc(2024, 1, 1, 0, 0, 0)),
        (utc(2024, 1, 1, 3, 59, 59), 14400, utc(2024, 1, 1, 0, 0, 0)),
        (utc(2024, 1, 1, 4, 0, 0), 14400, utc(2024, 1, 1, 4, 0, 0)),
        (utc(2024, 1, 1, 4, 0, 1), 14400, utc(2024, 1, 1, 4, 0, 0)),
        (utc(2024, 1, 1, 7, 59, 59), 14400, utc(2024, 1, 1, 4, 0, 0)),
        (utc(2024, 1, 1, 8, 0, 0), 14400, utc(2024, 1, 1, 8, 0, 0)),
        (utc(2024, 1, 1, 23, 59, 59), 14400, utc(2024, 1, 1, 20, 0, 0)),
        (utc(2024, 1, 2, 0, 0, 0), 14400, utc(2024, 1, 2, 0, 0, 0)),
        # 1d: UTC midnight
        (utc(2024, 1, 1, 23, 59, 59), DAY, utc(2024, 1, 1)),
        (utc(2024, 1, 2, 0, 0, 0), DAY, utc(2024, 1, 2)),
        (utc(2024, 1, 2, 0, 0, 1), DAY, utc(2024, 1, 2)),
        (utc(2024, 2, 29, 12, 0, 0), DAY, utc(2024, 2, 29)),
        (utc(2024, 3, 1, 0, 0, 0), DAY, utc(2024, 3, 1)),
        (utc(2023, 12, 31, 23, 59, 59), DAY, utc(2023, 12, 31)),
    ],
)
def test_bucket_start_edges(ts: int, seconds: int, expected: int) -> None:
    assert bucket_start(ts, seconds) == expected


@pytest.mark.parametrize("seconds", ALL)
@pytest.mark.parametrize("day", [utc(2024, 1, 1), utc(2024, 6, 15), utc(2025, 3, 30)])
def test_buckets_are_utc_aligned_wall_clock(seconds: int, day: int) -> None:
    """Every bucket start is a UTC wall-clock multiple of the interval within its day."""
    for offset in range(0, DAY, 997):  # a stride coprime to every interval
        start = bucket_start(day + offset, seconds)
        dt = datetime.fromtimestamp(start, tz=UTC)
        since_midnight = dt.hour * 3600 + dt.minute * 60 + dt.second
        assert since_midnight % seconds == 0
        assert start <= day + offset < start + seconds


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1m,5m,15m,1h,4h,1d", (60, 300, 900, 3600, 14400, 86400)),
        ("1d,4h,1h,15m,5m,1m", (60, 300, 900, 3600, 14400, 86400)),
        (" 1m , 5m ", (60, 300)),
        ("1m,60s,1m", (60,)),
        ("60m", (3600,)),
        ("1440m", (86400,)),
        ("30s", (30,)),
        ("1m,,5m", (60, 300)),
    ],
)
def test_parse_intervals(text: str, expected: tuple[int, ...]) -> None:
    assert parse_intervals(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("7m", "does not divide"),
        ("1m,7m", "'7m'"),
        ("7s", "does not divide"),
        ("5h", "does not divide"),
        ("0m", "does not divide"),
        ("00h", "does not divide"),
        ("abc", "'abc'"),
        ("m", "'m'"),
        ("5", "'5'"),
        ("5x", "'5x'"),
        ("-5m", "'-5m'"),
        ("1.5h", "'1.5h'"),
        ("", "empty"),
        (" , ,", "empty"),
    ],
)
def test_parse_intervals_rejects(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as exc_info:
        parse_intervals(text)
    message = str(exc_info.value)
    assert "OHLCV_INTERVALS" in message
    assert fragment in message


def test_parse_interval_superscript_digit_is_config_error() -> None:
    with pytest.raises(ConfigError, match="OHLCV_INTERVALS"):
        parse_interval("\u00b2m")  # '²m'


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(30, "30s"), (60, "1m"), (300, "5m"), (900, "15m"), (3600, "1h"), (14400, "4h"),
     (86400, "1d"), (90, "90s"), (5400, "90m")],
)
def test_label(seconds: int, text: str) -> None:
    assert label(seconds) == text
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["1m", "5m", "15m", "1h", "4h", "1d", "30s", "2h", "12h", "10m"])
def test_label_round_trips_canonical_labels(text: str) -> None:
    assert label(parse_interval(text)) == text


def test_parse_label_round_trip_for_every_divisor_of_a_day() -> None:
    divisors = [s for s in range(1, DAY + 1) if DAY % s == 0]
    assert len(divisors) == 96
    for seconds in divisors:
        assert parse_interval(label(seconds)) == seconds, seconds
