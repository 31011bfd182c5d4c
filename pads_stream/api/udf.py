"""TradingView UDF shapes (pure): resolutions, symbol info, pricescale, history columns, marks.

UDF prices and volumes are JSON numbers, i.e. IEEE doubles: 15 to 17 significant digits of
prices that carry up to 30. /v1 keeps the exact decimal strings.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from .errors import BadRequest

EXCHANGE = "pads"
SIGNIFICANT = 6  # price digits the chart shows
MAX_DECIMALS = 18  # pricescale at most 10**18
DEFAULT_DECIMALS = 10  # before a token's first trade
WEI = 10**18


def resolution(seconds: int) -> str:
    """60 -> '1', 3600 -> '60', 15 -> '15S', 86400 -> '1D'."""
    if seconds % 86400 == 0:
        return f"{seconds // 86400}D"
    if seconds % 60 == 0:
        return str(seconds // 60)
    return f"{seconds}S"


def parse_resolution(value: str | None, intervals: tuple[int, ...]) -> int:
    """A UDF resolution the worker folds -> seconds. 'D' and 'W' are '1D' and '1W'."""
    known = {resolution(s): s for s in intervals}
    if value is None:
        raise BadRequest(f"resolution: required, one of {', '.join(known)}", "resolution")
    v = value.strip().upper()
    if v in ("D", "W"):
        v = "1" + v
    if v.endswith("W") and v[:-1].isdigit():
        v = f"{int(v[:-1]) * 7}D"
    seconds = known.get(v)
    if seconds is None:
        raise BadRequest(f"resolution: {value!r} is not one of {', '.join(known)}", "resolution")
    return seconds


def pricescale(price: str | None, significant: int = SIGNIFICANT) -> int:
    """10**decimals, enough decimals to show `significant` digits of `price` (at most 10**18)."""
    try:
        d = Decimal(price) if price else Decimal(0)
    except InvalidOperation:
        d = Decimal(0)
    if not d.is_finite() or d <= 0:
        return 10**DEFAULT_DECIMALS
    exponent = d.adjusted()  # 2.8e-8 -> -8
    decimals = max(0, significant - 1 - exponent)
    return 10 ** min(decimals, MAX_DECIMALS)


def config(intervals: tuple[int, ...]) -> dict[str, Any]:
    return {
        "supported_resolutions": [resolution(s) for s in intervals],
        "supports_search": True, "supports_group_request": False, "supports_marks": True,
        "supports_timescale_marks": False, "supports_time": True,
        "exchanges": [{"value": EXCHANGE, "name": "pads", "desc": "pads launchpad"}],
        "symbols_types": [{"name": "crypto", "value": "crypto"}],
    }


def symbol_info(token: str, market: dict[str, str], intervals: tuple[int, ...]) -> dict[str, Any]:
    intraday = [s for s in intervals if s < 86400]
    return {
        "name": market.get("symbol") or token, "ticker": token, "full_name": f"{EXCHANGE}:{token}",
        "description": market.get("name") or token, "type": "crypto", "session": "24x7",
        "exchange": EXCHANGE, "listed_exchange": EXCHANGE, "timezone": "Etc/UTC", "format": "price",
        "minmov": 1, "pricescale": pricescale(market.get("price")), "volume_precision": 2,
        "has_intraday": bool(intraday), "has_seconds": any(s < 60 for s in intervals),
        "has_daily": any(s >= 86400 for s in intervals), "has_weekly_and_monthly": False,
        "seconds_multipliers": [str(s) for s in intervals if s < 60],
        "intraday_multipliers": [str(s // 60) for s in intraday if s >= 60 and s % 60 == 0],
        "daily_multipliers": [str(s // 86400) for s in intervals if s >= 86400],
        "supported_resolutions": [resolution(s) for s in intervals], "data_status": "streaming",
    }


def search_result(token: str, market: dict[str, str]) -> dict[str, Any]:
    return {"symbol": market.get("symbol") or token, "full_name": f"{EXCHANGE}:{token}",
            "description": market.get("name") or "", "exchange": EXCHANGE, "ticker": token, "type": "crypto"}


Bar = tuple[int, float, float, float, float, float]
BAR_CACHE_MAX = 50_000
_bars: dict[bytes, Bar] = {}


def _bar(member: bytes) -> Bar:
    d = orjson.loads(member)
    b = (d["t"], float(d["open"]), float(d["high"]), float(d["low"]), float(d["close"]),
         int(d["volume_token"]) / WEI)
    if len(_bars) >= BAR_CACHE_MAX:
        _bars.clear()
    _bars[member] = b
    return b


def history(members: list[bytes], next_time: int | None) -> dict[str, Any]:
    """Candle members, oldest first, as UDF columns; volume in whole tokens.

    A member is the whole canonical candle, so its bar is memoized by its bytes: a changed
    candle is another member. Parsing 300 members cost 0.6 ms, the lookups 0.03 ms.
    """
    if not members:
        return {"s": "no_data", "nextTime": next_time} if next_time is not None else {"s": "no_data"}
    get = _bars.get
    t, o, h, lo, c, v = zip(*[get(m) or _bar(m) for m in members], strict=True)
    return {"s": "ok", "t": t, "o": o, "h": h, "l": lo, "c": c, "v": v}


def marks(market: dict[str, str], seconds: int, frm: int, to: int) -> dict[str, list[Any]]:
    """Curve created and graduated, each on the start of the bar that holds it."""
    out: dict[str, list[Any]] = {k: [] for k in ("id", "time", "color", "text", "label", "labelFontColor", "minSize")}
    for key, text, lbl, color in (("created_at", "curve created", "C", "blue"),
                                  ("graduated_at", "graduated", "G", "green")):
        at = market.get(key)
        if at is None or not at.isdigit():
            continue
        bar = int(at) - int(at) % seconds
        if frm <= bar <= to:
            out["id"].append(key.split("_")[0])
            out["time"].append(bar)
            out["color"].append(color)
            out["text"].append(f"{text} at {at}")
            out["label"].append(lbl)
            out["labelFontColor"].append("white")
            out["minSize"].append(14)
    return out


def member_time(member: bytes) -> int:
    t: int = orjson.loads(member)["t"]
    return t
