"""The HTTP layer over an in-memory store: status codes, JSON errors naming the parameter,
API keys, countback/from/to/fill through the handlers, UDF mapping end to end."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from pads_stream.api.app import create_app
from pads_stream.api.settings import load
from pads_stream.mirror.keys import trade_score

TOKEN = "0x" + "ab" * 20
OTHER = "0x" + "cd" * 20


def candle(t: int, close: str, final: bool = True) -> bytes:
    return orjson.dumps({"t": t, "open": close, "high": close, "low": close, "close": close, "volume_token": "10",
                         "volume_eth": "20", "trades": 1, "buys": 1, "sells": 0, "final": final},
                        option=orjson.OPT_SORT_KEYS)


class FakeStore:
    """The Store's contract on dicts: members by score, unknown token -> None."""

    def __init__(self) -> None:
        self.markets = {TOKEN: {"symbol": "PADS", "name": "<b>Pads</b>", "created_at": "100", "created_block": "2",
                                "price": "0.00002"}}
        self.series = {(TOKEN, "1m"): {60: candle(60, "1"), 180: candle(180, "2"), 240: candle(240, "3", False)}}
        self.trade_rows = {TOKEN: {trade_score(5, i): orjson.dumps({"block_number": 5, "log_index": i}) for i in range(4)}}

    async def candles(self, token: str, interval: str, lo: int | None, hi: int | None, limit: int,
                      after: bool = False) -> tuple[list[bytes], bytes | None, bytes | None] | None:
        if token not in self.markets:
            return None
        s = self.series.get((token, interval), {})
        inside = [t for t in sorted(s) if (lo is None or t >= lo) and (hi is None or t <= hi)][-limit:]
        below = [t for t in sorted(s) if lo is not None and t < lo]
        above = [t for t in sorted(s) if after and hi is not None and t > hi]
        return [s[t] for t in inside], (s[below[-1]] if below else None), (s[above[0]] if above else None)

    async def market(self, token: str) -> dict[str, str] | None:
        return self.markets.get(token)

    async def trades(self, token: str, before: int | None, limit: int) -> list[bytes] | None:
        if token not in self.markets:
            return None
        rows = self.trade_rows.get(token, {})
        return [rows[k] for k in sorted(rows, reverse=True) if before is None or k < before][:limit]

    async def directory(self) -> dict[str, dict[str, str]]:
        return self.markets

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        pass


def client(**env: Any) -> TestClient:
    env.setdefault("OHLCV_INTERVALS", "1m,5m,15m,1h,4h,1d")
    settings = load(API_MAX_BARS=env.pop("API_MAX_BARS", 1500), **env)
    return TestClient(create_app(settings, FakeStore()))  # type: ignore[arg-type]


@pytest.fixture
def api() -> TestClient:
    return client()


def ts(body: dict[str, Any]) -> list[int]:
    return [c["t"] for c in body["candles"]]


@pytest.mark.parametrize("query, expected", [
    ("interval=1m", [60, 180, 240]),
    ("interval=1m&countback=2", [180, 240]),
    ("interval=1m&countback=2&from=0&to=180", [60, 180]),  # countback wins over from
    ("interval=1m&from=61", [180, 240]),
    ("interval=1m&from=0&to=180", [60, 180]),  # /v1's `to` is inclusive
    ("interval=1m&to=59", []),
])
def test_candles_ranges(api: TestClient, query: str, expected: list[int]) -> None:
    r = api.get(f"/v1/tokens/{TOKEN}/candles?{query}")
    assert r.status_code == 200, r.text
    assert ts(r.json()) == expected


def test_candles_keep_prices_as_strings_and_fill_marks_empty_buckets(api: TestClient) -> None:
    plain = api.get(f"/v1/tokens/{TOKEN}/candles?interval=1m").json()
    assert plain["candles"][0]["close"] == "1" and plain["interval"] == "1m" and plain["token"] == TOKEN
    filled = api.get(f"/v1/tokens/{TOKEN}/candles?interval=1m&fill=true&from=0").json()["candles"]
    assert [(c["t"], c["close"], c.get("filled", False)) for c in filled] == [
        (60, "1", False), (120, "1", True), (180, "2", False), (240, "3", False)]
    assert filled[1]["volume_eth"] == "0" and filled[1]["final"] is True


@pytest.mark.parametrize("query, expected", [
    # `to` inside the gap 60..180: its buckets up to `to` lie between two trades
    ("from=0&to=120", [(60, "1", False), (120, "1", True)]),
    ("from=0&to=179", [(60, "1", False), (120, "1", True)]),
    ("countback=3&to=150", [(60, "1", False), (120, "1", True)]),
    # the whole range inside that gap: filled from the candle before it
    ("from=100&to=150", [(120, "1", True)]),
    # nothing after the last trade, nothing before the first
    ("from=250&to=400", []),
    ("from=0&to=59", []),
    ("from=0&to=1000", [(60, "1", False), (120, "1", True), (180, "2", False), (240, "3", False)]),
])
def test_fill_reaches_to_when_a_trade_follows(api: TestClient, query: str,
                                              expected: list[tuple[int, str, bool]]) -> None:
    r = api.get(f"/v1/tokens/{TOKEN}/candles?interval=1m&fill=true&{query}")
    assert r.status_code == 200, r.text
    assert [(c["t"], c["close"], c.get("filled", False)) for c in r.json()["candles"]] == expected


@pytest.mark.parametrize("path, status, param", [
    (f"/v1/tokens/{TOKEN}/candles", 400, "interval"),
    (f"/v1/tokens/{TOKEN}/candles?interval=2m", 400, "interval"),
    (f"/v1/tokens/{TOKEN}/candles?interval=1m&countback=1501", 400, "countback"),
    (f"/v1/tokens/{TOKEN}/candles?interval=1m&countback=x", 400, "countback"),
    (f"/v1/tokens/{TOKEN}/candles?interval=1m&from=500&to=100", 400, "from"),
    (f"/v1/tokens/{TOKEN}/candles?interval=1m&to=-1", 400, "to"),
    (f"/v1/tokens/{TOKEN}/candles?interval=1m&fill=perhaps", 400, "fill"),
    ("/v1/tokens/0x123/candles?interval=1m", 400, "token"),
    (f"/v1/tokens/{OTHER}/candles?interval=1m", 404, "token"),
    (f"/v1/tokens/{OTHER}", 404, "token"),
    (f"/v1/tokens/{OTHER}/trades", 404, "token"),
    (f"/v1/tokens/{TOKEN}/trades?limit=501", 400, "limit"),
    ("/v1/tokens?sort=hottest", 400, "sort"),
    ("/v1/tokens?sort=hot", 400, "sort"),
    ("/v1/tokens?limit=0", 400, "limit"),
    ("/v1/tokens?cursor=zzz", 400, "cursor"),
])
def test_errors_are_json_naming_the_parameter(api: TestClient, path: str, status: int, param: str) -> None:
    r = api.get(path)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["param"] == param and body["error"].startswith(param)


def test_max_bars_setting_limits_countback() -> None:
    api = client(API_MAX_BARS=2)
    assert api.get(f"/v1/tokens/{TOKEN}/candles?interval=1m&countback=3").status_code == 400
    assert ts(api.get(f"/v1/tokens/{TOKEN}/candles?interval=1m").json()) == [180, 240]


def test_market_trades_and_token_list(api: TestClient) -> None:
    assert api.get(f"/v1/tokens/{TOKEN.upper().replace('0X', '0x')}").json() == {
        "token": TOKEN, "market": FakeStore().markets[TOKEN]}
    page1 = api.get(f"/v1/tokens/{TOKEN}/trades?limit=3").json()
    assert [t["log_index"] for t in page1["trades"]] == [3, 2, 1]
    page2 = api.get(f"/v1/tokens/{TOKEN}/trades?limit=3&before={page1['next_before']}").json()
    assert [t["log_index"] for t in page2["trades"]] == [0] and page2["next_before"] is None
    listed = api.get("/v1/tokens").json()
    assert listed == {"sort": "created", "tokens": [{"token": TOKEN, "market": FakeStore().markets[TOKEN]}],
                      "next_cursor": None}


@pytest.mark.parametrize("query, expected", [
    ("resolution=1&from=0&to=241", {"s": "ok", "t": [60, 180, 240], "o": [1.0, 2.0, 3.0], "h": [1.0, 2.0, 3.0],
                                    "l": [1.0, 2.0, 3.0], "c": [1.0, 2.0, 3.0], "v": [1e-17] * 3}),
    ("resolution=1&from=0&to=240", {"s": "ok", "t": [60, 180], "o": [1.0, 2.0], "h": [1.0, 2.0], "l": [1.0, 2.0],
                                    "c": [1.0, 2.0], "v": [1e-17] * 2}),  # UDF's `to` is exclusive
    ("resolution=1&from=0&to=1000&countback=1", {"s": "ok", "t": [240], "o": [3.0], "h": [3.0], "l": [3.0],
                                                 "c": [3.0], "v": [1e-17]}),
    ("resolution=1&from=1000&to=2000", {"s": "no_data", "nextTime": 240}),
    ("resolution=1&from=0&to=60", {"s": "no_data"}),  # the start of history: nothing older
    ("resolution=1&to=60&countback=10", {"s": "no_data"}),
    ("resolution=5&from=0&to=1000", {"s": "no_data"}),
])
def test_udf_history(api: TestClient, query: str, expected: dict[str, Any]) -> None:
    r = api.get(f"/udf/history?symbol={TOKEN}&{query}")
    assert r.status_code == 200 and r.json() == expected


def test_udf_errors_have_s_error(api: TestClient) -> None:
    r = api.get(f"/udf/history?symbol={TOKEN}&resolution=7&from=0&to=10")
    assert r.status_code == 400 and r.json()["s"] == "error" and r.json()["param"] == "resolution"
    r = api.get(f"/udf/history?symbol={OTHER}&resolution=1&from=0&to=10")
    assert r.status_code == 404 and r.json()["errmsg"].startswith("symbol")


def test_udf_symbols_search_config_time_marks(api: TestClient) -> None:
    by_symbol = api.get("/udf/symbols?symbol=pads").json()
    assert by_symbol["ticker"] == TOKEN and by_symbol["pricescale"] == 10**10
    assert api.get(f"/udf/symbols?symbol=pads:{TOKEN}").json()["name"] == "PADS"
    assert api.get("/udf/symbols?symbol=NOPE").status_code == 404
    assert [r["ticker"] for r in api.get("/udf/search?query=pad").json()] == [TOKEN]
    assert api.get("/udf/search?query=zzz").json() == []
    assert api.get("/udf/config").json()["supported_resolutions"] == ["1", "5", "15", "60", "240", "1D"]
    assert api.get("/udf/time").text.isdigit()
    assert api.get(f"/udf/marks?symbol={TOKEN}&resolution=1&from=0&to=1000").json()["time"] == [60]


def test_api_keys_guard_data_but_not_the_page() -> None:
    api = client(API_KEYS="k1, k2")
    assert api.get("/v1/tokens").status_code == 401
    assert api.get("/v1/tokens", headers={"X-API-Key": "nope"}).json()["param"] == "X-API-Key"
    assert api.get("/v1/tokens", headers={"X-API-Key": "k2"}).status_code == 200
    assert api.get("/udf/config", headers={"X-API-Key": "k1"}).status_code == 200
    assert api.get("/").status_code == 200 and api.get("/docs").status_code == 200


def test_intervals_default_to_the_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OHLCV_INTERVALS", raising=False)
    from pads_stream.settings import WorkerSettings

    assert load().ohlcv_intervals == WorkerSettings.model_fields["ohlcv_intervals"].default
    assert load(OHLCV_INTERVALS="60m,1m").ohlcv_intervals == (60, 3600)


def test_keys_never_show_in_settings_repr_or_errors() -> None:
    s = load(API_KEYS="topsecret")
    assert s.api_keys == ("topsecret",) and "topsecret" not in repr(s)
    from pads_stream.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        load(API_KEYS="topsecret", API_MAX_BARS="many")
    assert "API_MAX_BARS" in str(e.value) and "topsecret" not in str(e.value)


def test_cors_when_origins_are_set() -> None:
    api = client(API_CORS_ORIGINS="https://charts.example")
    r = api.options("/v1/tokens", headers={"Origin": "https://charts.example", "Access-Control-Request-Method": "GET"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://charts.example"


def test_openapi_documents_the_routes(api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    assert {"/v1/tokens", "/v1/tokens/{token}/candles", "/udf/history", "/udf/symbols"} <= set(paths)
    names = {p["name"] for p in paths["/v1/tokens/{token}/candles"]["get"]["parameters"]}
    assert names == {"token", "interval", "from", "to", "countback", "fill"}


def test_history_by_symbol_name_too(api: TestClient) -> None:
    by_name = api.get("/udf/history?symbol=PADS&resolution=1&from=0&to=1000").json()
    assert by_name == api.get(f"/udf/history?symbol={TOKEN}&resolution=1&from=0&to=1000").json()
    r = api.get("/udf/history?symbol=NOPE&resolution=1&from=0&to=1000")
    assert r.status_code == 404 and r.json()["param"] == "symbol"
    assert api.get("/udf/history?resolution=1&from=0&to=1000").json()["param"] == "symbol"


def test_redis_down_is_503_json() -> None:
    from pads_stream.api.store import Store

    settings = load(REDIS_URL="redis://127.0.0.1:1/0")
    with TestClient(create_app(settings, Store(settings.redis_url, settings.redis_prefix))) as api:
        r = api.get(f"/v1/tokens/{TOKEN}/candles?interval=1m")
        assert r.status_code == 503 and r.json()["error"].startswith("Redis did not answer")
        assert api.get("/v1/tokens").status_code == 503
        assert api.get("/health").status_code == 503


def test_metrics_count_requests_by_route_and_status_without_a_key() -> None:
    c = client(API_KEYS="k1")
    assert c.get("/v1/tokens/" + "0x" + "ab" * 20, headers={"X-API-Key": "k1"}).status_code in (200, 404)
    assert c.get("/v1/tokens/" + "0x" + "cd" * 20).status_code == 401  # no key: counted too
    r = c.get("/metrics")  # open, like /health
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    text = r.text
    assert 'pads_api_requests_total{route="/v1/tokens/{token}",status="401"} 1.0' in text
    assert 'pads_api_request_seconds_count{route="/v1/tokens/{token}"} 2.0' in text
    assert "0xabab" not in text and "0xcdcd" not in text  # templates, never raw paths
