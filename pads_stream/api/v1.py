"""REST under /v1: thin handlers over `params`, `ranges`, `tokens` and the `Store`."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from ..candles.intervals import label
from ..mirror.keys import trade_score
from . import docs, params, ranges, tokens
from .errors import NotFound
from .responses import JSON, raw_json, splice_array
from .state import api_state

router = APIRouter(prefix="/v1", tags=["v1"], default_response_class=JSON)


@router.get("/config", summary="Chain, intervals, limits and the socket.io URL for live updates")
async def config(request: Request) -> Response:
    st = api_state(request)
    s = st.settings
    return JSON({"chain_id": s.chain_id, "intervals": [label(i) for i in s.ohlcv_intervals],
                 "max_bars": s.api_max_bars, "push_url": s.push_url, "sorts": list(tokens.SORTS),
                 "sorts_available": list(tokens.AVAILABLE)})


@router.get("/tokens", summary="Tokens with their market snapshot", openapi_extra=docs.params(
    ("sort", "created (default, newest first) or graduated; volume_24h, market_cap, progress: 400 until "
             "rankings exist"),
    ("limit", "1-500, default 100"), ("cursor", "next_cursor of the previous page")))
async def list_tokens(request: Request) -> Response:
    st = api_state(request)
    q = request.query_params
    sort, limit, cursor = q.get("sort"), q.get("limit"), q.get("cursor")
    sort_ = params.choice(sort, "sort", tokens.SORTS, "created")
    limit_ = params.integer(limit, "limit", 1, 500) or 100
    items, nxt = tokens.page(await st.store.directory(), sort_, limit_, cursor)
    return JSON({"sort": sort_, "tokens": items, "next_cursor": nxt})


@router.get("/tokens/{token}", summary="The token's market snapshot (every value a string)",
            openapi_extra=docs.params(token=docs.TOKEN))
async def token_market(request: Request) -> Response:
    st = api_state(request)
    t = params.token(request.path_params["token"])
    market = await st.store.market(t)
    if market is None:
        raise NotFound(f"token: {t} is not known on chain {st.settings.chain_id}", "token")
    return raw_json(b'{"token":"%s","market":%s}' % (t.encode(), orjson.dumps(market)))


@router.get("/tokens/{token}/candles", summary="Candles, oldest first, prices as decimal strings",
            openapi_extra=docs.params(
                ("interval", "required: one of OHLCV_INTERVALS, e.g. 1m"),
                ("from", "oldest bucket start wanted, unix s, inclusive"),
                ("to", "newest bucket start wanted, unix s, inclusive (default: the newest)"),
                ("countback", "the newest N bars up to `to`, at most API_MAX_BARS; wins over from"),
                ("fill", "true: add the empty buckets between trades (previous close, volumes 0, filled: true)"),
                token=docs.TOKEN))
async def candles(request: Request) -> Response:
    st = api_state(request)
    s = st.settings
    q = request.query_params
    t = params.token(request.path_params["token"])
    seconds = params.interval(q.get("interval"), s.ohlcv_intervals)
    plan = ranges.plan_range(seconds, params.integer(q.get("from"), "from", 0), params.integer(q.get("to"), "to", 0),
                             params.integer(q.get("countback"), "countback"), s.api_max_bars)
    filled = params.boolean(q.get("fill"), "fill")
    got = await st.store.candles(t, label(seconds), plan.lo, plan.hi, plan.limit, after=filled)
    if got is None:
        raise NotFound(f"token: {t} is not known on chain {s.chain_id}", "token")
    rows, prev, nxt = got
    head = b'{"token":"%s","interval":"%s","candles":' % (t.encode(), label(seconds).encode())
    if not filled:
        return raw_json(head + splice_array(rows) + b"}")
    out = ranges.fill([orjson.loads(r) for r in rows], seconds, plan.keep, plan.lo,
                      orjson.loads(prev) if prev else None, truncated=len(rows) >= plan.limit, hi=plan.hi,
                      nxt=orjson.loads(nxt) if nxt else None)
    return raw_json(head + orjson.dumps(out) + b"}")


@router.get("/tokens/{token}/trades", summary="Recent trades (the last 500 kept), newest first",
            openapi_extra=docs.params(
                ("before", "a trade score (block_number * 100000 + log_index): only older trades; "
                           "next_before of the previous page"),
                ("limit", "1-500, default 50"), token=docs.TOKEN))
async def trades(request: Request) -> Response:
    st = api_state(request)
    q = request.query_params
    t = params.token(request.path_params["token"])
    before_ = params.integer(q.get("before"), "before", 0)
    limit_ = params.integer(q.get("limit"), "limit", 1, 500) or 50
    rows = await st.store.trades(t, before_, limit_)
    if rows is None:
        raise NotFound(f"token: {t} is not known on chain {st.settings.chain_id}", "token")
    nxt = None
    if len(rows) == limit_:
        last = orjson.loads(rows[-1])
        nxt = trade_score(last["block_number"], last["log_index"])
    return raw_json(b'{"token":"%s","trades":%s,"next_before":%s}' % (t.encode(), splice_array(rows),
                                                                     orjson.dumps(nxt)))
