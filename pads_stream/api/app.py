"""The ASGI app: routers, JSON errors, API keys, CORS. Stateless; reads only Redis."""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from . import alert_rules, page, udf_routes, v1
from .errors import ApiError
from .fastpath import FastPaths
from .metrics import ApiMetrics, render
from .responses import JSON
from .rulebook import Rulebook
from .settings import ApiSettings
from .state import ApiState, api_state
from .store import Store

log = logging.getLogger(__name__)
# The page and the docs hold no market data: they load without a key (the page sends one).
OPEN_PATHS = ("/", "/docs", "/openapi.json", "/health", "/metrics")
OPEN_PREFIXES = ("/static/", "/vendor/", "/docs/")


class ApiKeys:
    """Pure ASGI middleware: with API_KEYS set, every data request needs a valid X-API-Key."""

    def __init__(self, app: ASGIApp, keys: tuple[str, ...]) -> None:
        self.app = app
        self.keys = tuple(k.encode() for k in keys)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.keys or scope["method"] == "OPTIONS" or _open(scope["path"]):
            return await self.app(scope, receive, send)
        given = next((v for k, v in scope["headers"] if k == b"x-api-key"), b"")
        # Every key compared, in constant time each: the answer's timing says nothing about a key.
        ok = False
        for key in self.keys:
            ok |= hmac.compare_digest(given, key)
        if ok:
            return await self.app(scope, receive, send)
        resp = JSON({"error": "X-API-Key: missing or not valid", "param": "X-API-Key"}, 401)
        await resp(scope, receive, send)


def _open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def _error_body(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    if request.url.path.startswith("/udf/"):  # the UDF adapter reads s / errmsg
        return {"s": "error", "errmsg": body["error"], **body}
    return body


def error_response(request: Request, exc: ApiError) -> Response:
    if exc.status >= 500:
        log.warning("%s %s: %s", request.method, request.url.path, exc.message)
    return JSON(_error_body(request, exc.body()), exc.status)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(request, exc)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    err = exc.errors()[0]
    param = str(err["loc"][-1]) if err.get("loc") else None
    return JSON(_error_body(request, {"error": f"{param}: {err['msg']}", "param": param}), 400)


def create_app(settings: ApiSettings, store: Store | None = None, rulebook: Rulebook | None = None) -> FastAPI:
    st = ApiState(settings, store or Store(settings.redis_url, settings.redis_prefix), rulebook or Rulebook(settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await st.store.close()
        await st.rulebook.close()

    app = FastAPI(title="pads-stream API", version="1", lifespan=lifespan, default_response_class=JSON,
                  description="Candles, market snapshots and trades of the pads launchpad, read from the Redis "
                              "mirror. /v1 keeps exact decimal strings; /udf is the TradingView UDF datafeed "
                              "(prices as JSON numbers, i.e. doubles). The chart page is at /.")
    app.state.api = st
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.include_router(v1.router)
    app.include_router(udf_routes.router)
    app.include_router(alert_rules.router)
    app.include_router(page.router)

    @app.get("/health", tags=["ops"], summary="200 when Redis answers, else 503")
    async def health(request: Request) -> Response:
        ok = await api_state(request).store.ping()
        return JSON({"ok": ok, "redis": ok}, 200 if ok else 503)

    registry = CollectorRegistry()

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics: requests by route and status, latency")
    async def prometheus_metrics() -> Response:
        return Response(render(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.add_middleware(FastPaths, routes=[
        (r"/udf/history", udf_routes.history),
        (r"/v1/tokens/(?P<token>[^/]+)/candles", v1.candles),
        (r"/v1/tokens/(?P<token>[^/]+)", v1.token_market),
    ], on_error=error_response)
    app.add_middleware(ApiKeys, keys=settings.api_keys)
    if settings.api_cors_origins:  # so a preflight is answered before the key check
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.api_cors_origins), allow_methods=["GET"],
                           allow_headers=["X-API-Key"])
    app.add_middleware(ApiMetrics, registry=registry)  # outermost: times all a client waits for
    return app

