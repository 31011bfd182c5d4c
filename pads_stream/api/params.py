"""Query and path parameters, checked without I/O. Each failure is a BadRequest naming the parameter."""

from __future__ import annotations

import re

from ..candles.intervals import label
from .errors import BadRequest

ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
INT = re.compile(r"-?[0-9]{1,18}")
TRUE = {"true", "1", "yes"}
FALSE = {"false", "0", "no", ""}


def token(value: str | None, param: str = "token") -> str:
    """A 0x address, lower-cased as in every Redis key."""
    if value is None or not ADDRESS.fullmatch(value):
        raise BadRequest(f"{param}: expected a 0x address of 40 hex digits, got {_show(value)}", param)
    return value.lower()


def integer(value: str | None, param: str, lo: int | None = None, hi: int | None = None) -> int | None:
    """An optional integer within [lo, hi]; None when the parameter is absent."""
    if value is None:
        return None
    if not INT.fullmatch(value.strip()):
        raise BadRequest(f"{param}: expected an integer, got {_show(value)}", param)
    n = int(value)
    if lo is not None and n < lo:
        raise BadRequest(f"{param}: must be at least {lo}, got {n}", param)
    if hi is not None and n > hi:
        raise BadRequest(f"{param}: must be at most {hi}, got {n}", param)
    return n


def boolean(value: str | None, param: str, default: bool = False) -> bool:
    if value is None:
        return default
    v = value.strip().lower()
    if v in TRUE:
        return True
    if v in FALSE:
        return False
    raise BadRequest(f"{param}: expected true or false, got {_show(value)}", param)


def interval(value: str | None, intervals: tuple[int, ...], param: str = "interval") -> int:
    """A configured interval label (`1m`, `4h`...) -> seconds."""
    labels = {label(s): s for s in intervals}
    if value is None:
        raise BadRequest(f"{param}: required, one of {', '.join(labels)}", param)
    seconds = labels.get(value.strip())
    if seconds is None:
        raise BadRequest(f"{param}: {_show(value)} is not one of {', '.join(labels)}", param)
    return seconds


def choice(value: str | None, param: str, allowed: tuple[str, ...], default: str) -> str:
    if value is None:
        return default
    if value not in allowed:
        raise BadRequest(f"{param}: {_show(value)} is not one of {', '.join(allowed)}", param)
    return value


def _show(value: str | None) -> str:
    """The offending value, quoted and cut short, for an error message."""
    if value is None:
        return "nothing"
    return repr(value if len(value) <= 60 else value[:60] + "...")
