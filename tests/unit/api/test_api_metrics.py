"""The API's /metrics: requests by route template (never a raw path) and status, and latency."""

from __future__ import annotations

import pytest

from pads_stream.api.metrics import route_of


@pytest.mark.parametrize(("path", "route"), [
    ("/v1/tokens/0xabc/candles", "/v1/tokens/{token}/candles"),
    ("/v1/tokens/0xabc/trades", "/v1/tokens/{token}/trades"),
    ("/v1/tokens/0xabc", "/v1/tokens/{token}"),
    ("/v1/tokens", "/v1/tokens"),
    ("/udf/history", "/udf/history"),
    ("/udf/unknown", "/udf/*"),
    ("/static/chart.js", "/static/*"),
    ("/", "/"),
    ("/metrics", "/metrics"),
    ("/wp-admin.php", "other"),  # scanners do not add label values
    ("/v1/tokens/0xabc/candles/extra", "/v1/*"),
])
def test_paths_are_counted_by_route_template(path: str, route: str) -> None:
    assert route_of(path) == route
