"""TradingView UDF datafeed under /udf (see `udf` for the shapes and the precision limit)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from starlette.responses import PlainTextResponse, Response

from ..candles.intervals import label
from . import docs, params, ranges, udf
from .errors import BadRequest, NotFound
from .responses import JSON
from .state import ApiState, api_state

router = APIRouter(prefix="/udf", tags=["udf"], default_response_class=JSON)


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


@router.get("/symbols", summary="Symbol info by address or symbol",
            openapi_extra=docs.params(("symbol", "a token address, pads:<address>, or a token symbol")))
async def symbols(request: Request) -> Response:
    st = api_state(request)
    token, market = await _resolve(st, request.query_params.get("symbol"))
    return JSON(udf.symbol_info(token, market, st.settings.ohlcv_intervals))


@router.get("/search", summary="Symbols whose symbol, name or address contains the query",
            openapi_extra=docs.params(("query", "text to look for"), ("limit", "1-100, default 30"),
                                      ("type", "ignored: every symbol is crypto"), ("exchange", "ignored: pads")))
async def search(request: Request) -> Response:
    st = api_state(request)
    q = (request.query_params.get("query") or "").strip().lower()
    n = params.integer(request.query_params.get("limit"), "limit", 1, 100) or 30
    found = []
    for token, market in sorted((await st.store.directory()).items()):
        if q in token or q in market.get("symbol", "").lower() or q in market.get("name", "").lower():
            found.append(udf.search_result(token, market))
            if len(found) >= n:
                break
    return JSON(found)


@router.get("/history", summary="Bars: {s: ok, t, o, h, l, c, v} or {s: no_data, nextTime}",
            openapi_extra=docs.params(
                ("symbol", "the token address (the ticker /symbols returns), optionally pads:<address>"),
                ("resolution", "a configured resolution: 1S 15S 30S 1 5 15 60 240 1D ..."),
                ("from", "unix s, inclusive"), ("to", "unix s, exclusive"),
                ("countback", "the newest N bars before `to` (cut to API_MAX_BARS); wins over from")))
async def history(request: Request) -> Response:
    st = api_state(request)
    s = st.settings
    q = request.query_params
    sym = (q.get("symbol") or "").split(":", 1)[-1]
    # The library sends the ticker (the address); a symbol name costs a look-up in the token list.
    t = params.token(sym, "symbol") if params.ADDRESS.fullmatch(sym) else (await _resolve(st, sym))[0]
    seconds = udf.parse_resolution(q.get("resolution"), s.ohlcv_intervals)
    plan = ranges.plan_range(seconds, params.integer(q.get("from"), "from"), params.integer(q.get("to"), "to"),
                             params.integer(q.get("countback"), "countback"), s.api_max_bars, to_exclusive=True,
                             strict=False)
    got = await st.store.candles(t, label(seconds), plan.lo, plan.hi, plan.limit)
    if got is None:
        raise NotFound(f"symbol: {t} is not known on chain {s.chain_id}", "symbol")
    rows, prev, _ = got
    next_time = udf.member_time(prev) if prev is not None else None
    return JSON(udf.history(rows, next_time))


@router.get("/marks", summary="Curve created and graduated, on bar times",
            openapi_extra=docs.params(("symbol", "address or symbol"), ("resolution", "as for /history"),
                                      ("from", "unix s"), ("to", "unix s")))
async def marks(request: Request) -> Response:
    st = api_state(request)
    q = request.query_params
    token, market = await _resolve(st, q.get("symbol"))
    seconds = udf.parse_resolution(q.get("resolution"), st.settings.ohlcv_intervals)
    frm = params.integer(q.get("from"), "from") or 0
    end = params.integer(q.get("to"), "to")
    return JSON(udf.marks(market, seconds, frm, end if end is not None else 2**62))
