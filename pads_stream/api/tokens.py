"""The token list (pure): sort orders over the market snapshots, and keyset cursors.

All from the market hashes: `created` (newest curve first), `graduated` (graduated tokens
only, most recent graduation first), `volume_24h` (largest ETH volume over the 24h window
first), `market_cap` (largest first, tokens that traded), `progress` (furthest along first,
tokens still on their curve). Ties go to the newest token. Decimal fields are compared
exactly (scaled to integers of 10^-18), not as the doubles of the Redis rankings.
"""

from __future__ import annotations

import bisect
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import BadRequest

SORTS = ("created", "volume_24h", "market_cap", "progress", "graduated")
AVAILABLE = SORTS
CURSOR = re.compile(r"(-?[0-9]{1,60})\.(-?[0-9]{1,20})\.(0x[0-9a-f]{40})")
Key = tuple[int, int, str]


def _int(market: dict[str, str], field: str) -> int:
    v = market.get(field, "")
    return int(v) if v.isdigit() else 0


def _scaled(market: dict[str, str], field: str) -> int | None:
    v = market.get(field)
    if v is None:
        return None
    try:
        return int(Decimal(v).scaleb(18))
    except InvalidOperation:
        return None


def sort_key(sort: str, token: str, market: dict[str, str]) -> Key | None:
    """Ascending key of a token in `sort` order, or None when the token is not listed in it."""
    if sort == "created":
        return (-_int(market, "created_at"), -_int(market, "created_block"), token)
    if sort == "graduated":
        if market.get("graduated") != "1":
            return None
        return (-_int(market, "graduated_at"), -_int(market, "graduated_block"), token)
    created = -_int(market, "created_at")
    if sort == "volume_24h":
        return (-_int(market, "volume_eth_24h"), created, token)
    if sort == "market_cap":
        cap = _scaled(market, "market_cap_eth")
        return None if cap is None else (-cap, created, token)
    if sort == "progress":
        progress = _scaled(market, "curve_progress")
        return None if progress is None or market.get("graduated") == "1" else (-progress, created, token)
    raise BadRequest(f"sort: {sort!r} is not one of {', '.join(SORTS)}", "sort")


def encode_cursor(key: Key) -> str:
    return f"{key[0]}.{key[1]}.{key[2]}"


def decode_cursor(cursor: str) -> Key:
    m = CURSOR.fullmatch(cursor)
    if m is None:
        raise BadRequest("cursor: not a cursor this API returned", "cursor")
    return (int(m[1]), int(m[2]), m[3])


def page(directory: dict[str, dict[str, str]], sort: str, limit: int,
         cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """One page of {token, market} in `sort` order after `cursor`, and the next page's cursor."""
    after = decode_cursor(cursor) if cursor else None
    if sort not in AVAILABLE:
        sort_key(sort, "", {})  # raises the 400
    keyed = sorted((k, t) for t, m in directory.items() if (k := sort_key(sort, t, m)) is not None)
    start = bisect.bisect_right(keyed, (after, "\uffff")) if after is not None else 0
    chosen = keyed[start:start + limit]
    items = [{"token": t, "market": directory[t]} for _, t in chosen]
    more = start + limit < len(keyed)
    return items, (encode_cursor(chosen[-1][0]) if more and chosen else None)
