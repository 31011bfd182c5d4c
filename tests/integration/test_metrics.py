"""A real Prometheus (Debian's) scrapes every component's /metrics (worker, bridge, API), and /ready follows the lag."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from stack import prometheus

from .api_stack import start_api
from .conftest import Deployment, get_json, wait_for
from .test_pipeline import assert_exact


def query(url: str, expr: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/api/v1/query?query={urllib.parse.quote(expr)}", timeout=5) as r:
        return json.loads(r.read())["data"]["result"]  # type: ignore[no-any-return]


def value(url: str, expr: str) -> float | None:
    result = query(url, expr)
    return float(result[0]["value"][1]) if result else None


def test_prometheus_scrapes_the_worker_and_the_bridge_and_ready_follows_the_lag(deployment: Deployment) -> None:
    d = deployment
    curve = d.pad.create_curve("Watched", "WATCH")
    worker = d.start_worker()
    port = worker.urls["health"].rsplit(":", 1)[1].split("/")[0]
    bridge = d.start_bridge()
    bridge_port = bridge.urls["health"].rsplit(":", 1)[1].split("/")[0]
    for i in range(4):
        d.pad.buy(curve, d.pad.accounts[2 + i], (i + 1) * 10**16)
    assert_exact(d, timeout=60)
    worker.urls["ready"] = worker.urls["health"].replace("/health", "/ready")
    # The lag is measured every 2 s: wait for a measurement after the last log.
    status, body = wait_for(lambda: (lambda r: r if r[0] == 200 and sum(r[1]["lag"].values()) == 0 else None)(
        get_json(worker.urls["ready"])), 30, "/ready to answer 200 with no lag")
    assert body["ok"] is True

    with urllib.request.urlopen(worker.urls["health"].replace("/health", "/metrics"), timeout=5) as r:
        assert r.headers["Content-Type"].startswith("text/plain") and b"pads_logs_total" in r.read()
    # The bridge: caught up with the head, which it read.
    status, body = wait_for(lambda: (lambda r: r if r[0] == 200 else None)(
        get_json(bridge.urls["health"].replace("/health", "/ready"))), 30, "the bridge's /ready to answer 200")
    assert body["head"] == d.pad.head() and body["published"] == body["head"] and body["problems"] == []
    api = start_api(d)
    assert api.get("/v1/tokens")[0] == 200
    api_port = api.url.rsplit(":", 1)[1]
    prom = prometheus.start(d.dir / "prometheus", {"worker": [f"127.0.0.1:{port}"],
                                                   "bridge": [f"127.0.0.1:{bridge_port}"],
                                                   "api": [f"127.0.0.1:{api_port}"]})
    d.procs.append(prom)
    url = prom.urls["PROMETHEUS_URL"]
    wait_for(lambda: value(url, 'up{job="worker"}') == 1, 60, "Prometheus to scrape the worker")
    wait_for(lambda: value(url, 'up{job="bridge"}') == 1, 60, "Prometheus to scrape the bridge")
    wait_for(lambda: value(url, 'up{job="api"}') == 1, 60, "Prometheus to scrape the API")
    assert (value(url, 'pads_api_requests_total{route="/v1/tokens",status="200"}') or 0) >= 1
    assert value(url, "pads_bridge_head_block") == d.pad.head()
    assert value(url, "pads_bridge_head_lag_blocks") == 0 and value(url, "pads_bridge_connected") == 1
    assert (value(url, "pads_bridge_logs_published_total") or 0) >= 5
    assert (value(url, "pads_bridge_head_timeout_seconds") or 0) > 0
    assert (value(url, "pads_logs_total") or 0) >= 5  # the curve, the trades, head markers
    assert (value(url, "pads_token_updates_total") or 0) >= 1  # one per token and batch
    assert value(url, "pads_ready") == 1
    assert value(url, "sum(pads_consumer_lag)") == 0
    assert (value(url, 'pads_sink{sink="redis",count="candles_written"}') or 0) > 0
    assert value(url, 'pads_sink{sink="push",count="connected"}') == 1
    assert (value(url, 'pads_stage_seconds_count{stage="deliver"}') or 0) >= 1
    assert (value(url, "pads_block_to_redis_seconds_count") or 0) >= 1
    with urllib.request.urlopen(f"{url}/api/v1/rules", timeout=5) as r:
        rules = {rule["name"] for g in json.loads(r.read())["data"]["groups"] for rule in g["rules"]}
    assert {"PadsWorkerNotReady", "PadsDeepReorg", "PadsConsumerLagGrowing"} <= rules
