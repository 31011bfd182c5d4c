"""The Grafana dashboard (`stack/grafana/pads-stream.json`): a dashboard Grafana can import, whose
queries name only metrics the worker, the bridge and the API export (read from their registries
themselves), so renaming a metric without the dashboard fails this test."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from bridge.headwatch import HeadWatch
from bridge.status import BridgeStatus
from pads_stream.agents.metrics import WorkerMetrics
from pads_stream.api.metrics import ApiMetrics

DASHBOARD = Path(__file__).resolve().parents[2] / "stack" / "grafana" / "pads-stream.json"

# The bridge's metrics (bridge/status.py), as Prometheus names them.
BRIDGE_METRICS = frozenset({
    "pads_bridge_head_block",
    "pads_bridge_head_age_seconds",
    "pads_bridge_published_block",
    "pads_bridge_head_lag_blocks",
    "pads_bridge_logs_published_total",
    "pads_bridge_reorgs_total",
    "pads_bridge_errors_total",
})
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
METRIC = re.compile(r"(?<![A-Za-z0-9_:])pads_[a-z_]+")
VARIABLE = re.compile(r"\$\{?(\w+)")
GRAFANA_VARIABLES = frozenset({"__rate_interval", "__interval", "__range", "__range_s"})
ROWS = ["Throughput", "Latency", "Stages", "Lag and health", "Errors", "Sinks", "Bridge", "API"]


def dashboard() -> dict[str, Any]:
    with DASHBOARD.open(encoding="utf-8") as f:
        loaded: dict[str, Any] = json.load(f)
    return loaded


def graphs(d: dict[str, Any]) -> list[dict[str, Any]]:
    """The panels that query (rows only group them), nested rows' included."""
    out: list[dict[str, Any]] = []
    for panel in d["panels"]:
        if panel["type"] == "row":
            out.extend(panel.get("panels", []))
        else:
            out.append(panel)
    return out


def exprs(d: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in graphs(d) for t in p["targets"]]


def variable_queries(d: dict[str, Any]) -> list[str]:
    out = []
    for v in d["templating"]["list"]:
        if v["type"] == "query":
            q = v["query"]
            out.append(q if isinstance(q, str) else q["query"])
    return out


def worker_metrics() -> tuple[set[str], set[str]]:
    """(names a query may use, histogram names) of what `WorkerMetrics` exports: its registry's
    families (labelled ones have no samples until a label is set) and their samples."""
    names: set[str] = set()
    histograms: set[str] = set()
    api = CollectorRegistry()
    ApiMetrics(None, api)  # type: ignore[arg-type]  # only its registry is read
    registries = [WorkerMetrics().registry, BridgeStatus(HeadWatch(1.0), 1).registry, api]
    for family in (f for r in registries for f in r.collect()):
        if family.type == "counter":
            names.add(f"{family.name}_total")  # prometheus_client names the family without it
        else:
            names.add(family.name)
        if family.type == "histogram":
            histograms.add(family.name)
        names.update(s.name for s in family.samples if not s.name.endswith(HISTOGRAM_SUFFIXES))
    return names, histograms


def unknown_metrics(texts: list[str]) -> list[str]:
    """Every `pads_*` name in `texts` that neither the worker nor the bridge exports. A
    `_bucket`/`_sum`/`_count` suffix is taken off, and then only a histogram may remain."""
    names, histograms = worker_metrics()
    known = names | BRIDGE_METRICS
    unknown = []
    for text in texts:
        for token in METRIC.findall(text):
            base = token
            for suffix in HISTOGRAM_SUFFIXES:
                if token.endswith(suffix):
                    base = token.removesuffix(suffix)
                    break
            if (base not in histograms) if base != token else (token not in known):
                unknown.append(token)
    return sorted(set(unknown))


def test_is_a_dashboard() -> None:
    d = dashboard()
    assert isinstance(d["title"], str) and d["title"]
    assert isinstance(d["uid"], str) and 0 < len(d["uid"]) <= 40
    assert isinstance(d["schemaVersion"], int) and d["schemaVersion"] >= 36
    assert d["panels"]
    ids = [p["id"] for p in d["panels"]] + [p["id"] for r in d["panels"] if r["type"] == "row"
                                              for p in r.get("panels", [])]
    assert all(isinstance(i, int) for i in ids)
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in graphs(d):
        assert panel["title"] and {"h", "w", "x", "y"} <= panel["gridPos"].keys(), panel
        assert panel["targets"], f"panel {panel['title']!r} has no targets"
        for t in panel["targets"]:
            assert isinstance(t.get("expr"), str) and t["expr"].strip(), f"panel {panel['title']!r}: {t}"
            assert t["datasource"]["uid"] == "${DS_PROMETHEUS}"
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), f"panel {panel['title']!r} repeats a refId"
        assert panel["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}


def test_rows_group_the_panels_in_order() -> None:
    d = dashboard()
    assert [p["title"] for p in d["panels"] if p["type"] == "row"] == ROWS
    assert d["panels"][0]["type"] == "row"


def test_variables_a_prometheus_datasource_and_the_workers() -> None:
    d = dashboard()
    by_name = {v["name"]: v for v in d["templating"]["list"]}
    assert by_name["DS_PROMETHEUS"]["type"] == "datasource"
    assert by_name["DS_PROMETHEUS"]["query"] == "prometheus"
    assert by_name["instance"]["type"] == "query"
    assert by_name["instance"]["definition"] == "label_values(pads_ready, instance)"
    assert "label_values(pads_ready, instance)" in variable_queries(d)
    used = {name for e in exprs(d) for name in VARIABLE.findall(e)}
    assert used - GRAFANA_VARIABLES <= by_name.keys(), "an expr uses an undefined variable"


def test_every_metric_it_queries_is_exported() -> None:
    d = dashboard()
    assert unknown_metrics(exprs(d) + variable_queries(d)) == []


def test_it_queries_every_listed_bridge_metric() -> None:
    referenced = {token for e in exprs(dashboard()) for token in METRIC.findall(e)}
    assert BRIDGE_METRICS - referenced == set(), "a bridge metric listed here has no panel"


@pytest.mark.parametrize(("expr", "unknown"), [
    ("rate(pads_logs_total[5m])", []),
    ("rate(pads_logs[5m])", ["pads_logs"]),  # a counter without `_total`
    ("rate(pads_dead_letters_total[5m])", []),  # labelled: no samples until a reason is counted
    ("histogram_quantile(0.99, sum by (le) (rate(pads_stage_seconds_bucket[5m])))", []),
    ("rate(pads_batch_messages_sum[5m]) / rate(pads_batch_messages_count[5m])", []),
    ("pads_ready_count", ["pads_ready_count"]),  # only histograms have these suffixes
    ('pads_sink{sink="redis", count="write_errors"}', []),
    ("pads_consumer_lags", ["pads_consumer_lags"]),
    ("pads_bridge_errors_total", []),
    ("pads_bridge_errors", ["pads_bridge_errors"]),
])
def test_a_renamed_metric_is_caught(expr: str, unknown: list[str]) -> None:
    assert unknown_metrics([expr]) == unknown
