"""Candle intervals and UTC-aligned bucketing by block timestamp (pure)."""

from __future__ import annotations

import re
from functools import lru_cache

from ..errors import ConfigError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_LABEL = re.compile(r"([0-9]+)([smhd])")


def parse_interval(label: str) -> int:
    """'5m' -> 300. Every interval must divide a day so buckets stay UTC-aligned."""
    match = _LABEL.fullmatch(label.strip())
    if match is None:
        raise ConfigError(f"OHLCV_INTERVALS: {label!r} is not an interval like 1m, 4h, 1d")
    seconds = int(match[1]) * _UNITS[match[2]]
    if seconds <= 0 or (seconds < 86400 and 86400 % seconds) or (seconds >= 86400 and seconds % 86400):
        raise ConfigError(f"OHLCV_INTERVALS: {label!r} does not divide a UTC day evenly")
    return seconds


def parse_duration(label: str) -> int:
    """'90d' -> 7776000: a positive number of seconds, minutes, hours, days or weeks."""
    match = re.fullmatch(r"([0-9]+)([smhdw])", label.strip())
    if match is None or int(match[1]) <= 0:
        raise ConfigError(f"{label!r} is not a duration like 30m, 1d, 2w")
    return int(match[1]) * {**_UNITS, "w": 604800}[match[2]]


def parse_intervals(text: str) -> tuple[int, ...]:
    """'1m,5m' -> (60, 300), sorted and de-duplicated."""
    items = [p for p in text.split(",") if p.strip()]
    if not items:
        raise ConfigError("OHLCV_INTERVALS: empty")
    return tuple(sorted({parse_interval(p) for p in items}))


@lru_cache(maxsize=64)  # called for every candle pushed and written, with a handful of intervals
def label(seconds: int) -> str:
    """300 -> '5m': the name used in Redis keys and socket.io events."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def bucket_start(ts: int, seconds: int) -> int:
    """Start of the bucket holding unix time `ts`; epoch-aligned, hence UTC-aligned."""
    return ts - ts % seconds
