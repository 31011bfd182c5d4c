"""TradingView UDF datafeed under /udf (see `udf` for the shapes and the precision limit)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import PlainTextResponse, Response

from ..candles.intervals import label
from . import params, ranges, udf
from .errors import BadRequest, NotFound
from .responses import JSON
from .state import ApiState, api_state

router = APIRouter(prefix="/udf", tags=["udf"], default_response_class=JSON)
Opt = str | None


async def _resolve(st: ApiState, symbol: str | None) -> tuple[str, dict[str, str]]:
    """An address, `pads:<address>` or a token symbol (case-insensitive) -> (token, market)."""
    if symbol is None or not symbol.strip():
        raise BadRequest("symbol: required", "symbol")
    s = symbol.strip().split(":", 1)[-1]
    if params.ADDRESS.fullmatch(s):
        market = await st.store.market(s.lower())
        if market is not None:
            return s.lower(), market
    else:
        for token, market in sorted((await st.store.directory()).items()):
            if market.get("symbol", "").lower() == s.lower():
                return token, market
    raise NotFound(f"symbol: {symbol!r} is not known on chain {st.settings.chain_id}", "symbol")


@router.get("/config", summary="UDF datafeed configuration")
async def config(request: Request) -> Response:
    return JSON(udf.config(api_state(request).settings.ohlcv_intervals))


@router.get("/time", summary="Server time, unix seconds", response_class=PlainTextResponse)
async def server_time() -> Response:
    return PlainTextResponse(str(int(time.time())))


@router.get("/symbols", summary="Symbol info by address or symbol")
async def symbols(request: Request, symbol: Annotated[Opt, Query()] = None) -> Response:
    st = api_state(request)
    token, market = await _resolve(st, symbol)
    return JSON(udf.symbol_info(token, market, st.settings.ohlcv_intervals))


@router.get("/search", summary="Symbols whose symbol, name or address contains the query")
async def search(request: Request, query: Annotated[Opt, Query()] = None, limit: Annotated[Opt, Query()] = None,
                 type: Annotated[Opt, Query()] = None, exchange: Annotated[Opt, Query()] = None) -> Response:
    st = api_state(request)
    q = (query or "").strip().lower()
    n = params.integer(limit, "limit", 1, 100) or 30
    found = []
    for token, market in sorted((await st.store.directory()).items()):
        if q in token or q in market.get("symbol", "").lower() or q in market.get("name", "").lower():
            found.append(udf.search_result(token, market))
            if len(found) >= n:
                break
    return JSON(found)


@router.get("/history", summary="Bars: {s: ok, t, o, h, l, c, v} or {s: no_data, nextTime}")
async def history(request: Request, symbol: Annotated[Opt, Query(description="token address (the ticker)")] = None,
                  resolution: Annotated[Opt, Query(description="e.g. 1, 5, 60, 1D")] = None,
                  from_: Annotated[Opt, Query(alias="from", description="unix s, inclusive")] = None,
                  to: Annotated[Opt, Query(description="unix s, exclusive")] = None,
                  countback: Annotated[Opt, Query(description="bars before `to`; wins over from")] = None) -> Response:
    st = api_state(request)
    s = st.settings
    sym = (symbol or "").split(":", 1)[-1]
    t = params.token(sym, "symbol")
    seconds = udf.parse_resolution(resolution, s.ohlcv_intervals)
    plan = ranges.plan_range(seconds, params.integer(from_, "from"), params.integer(to, "to"),
                             params.integer(countback, "countback"), s.api_max_bars, to_exclusive=True, strict=False)
    got = await st.store.candles(t, label(seconds), plan.lo, plan.hi, plan.limit)
    if got is None:
        raise NotFound(f"symbol: {t} is not known on chain {s.chain_id}", "symbol")
    rows, prev = got
    next_time = udf.member_time(prev) if prev is not None else None
    return JSON(udf.history(rows, next_time))


@router.get("/marks", summary="Curve created and graduated, on bar times")
async def marks(request: Request, symbol: Annotated[Opt, Query()] = None, resolution: Annotated[Opt, Query()] = None,
                from_: Annotated[Opt, Query(alias="from")] = None, to: Annotated[Opt, Query()] = None) -> Response:
    st = api_state(request)
    token, market = await _resolve(st, symbol)
    seconds = udf.parse_resolution(resolution, st.settings.ohlcv_intervals)
    frm = params.integer(from_, "from") or 0
    end = params.integer(to, "to")
    return JSON(udf.marks(market, seconds, frm, end if end is not None else 2**62))
