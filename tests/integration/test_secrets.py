"""Secrets stay out of what the processes print: credentials in BLOCKCHAIN_WS_URL (an API key
in the path, as providers do) and in REDIS_URL (a password), with each connection failing."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from stack.process import free_port

from .conftest import Deployment, wait_for

API_KEY = "SeCrEtApIkEy0123456789abcdefXYZ"
PASSWORD = "r3d1s-S3cr3t-Pw"


def body(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return 0, ""


def test_credentials_never_reach_logs_or_health_bodies(deployment: Deployment) -> None:
    d = deployment
    nobody = free_port()  # nothing listens there: every connection fails
    bridge = d.start_bridge(BLOCKCHAIN_WS_URL=f"ws://127.0.0.1:{nobody}/v3/{API_KEY}")
    worker = d.start_worker(REDIS_URL=f"redis://default:{PASSWORD}@127.0.0.1:{nobody}/0")
    wait_for(lambda: "the node failed" in bridge.log_path.read_text(errors="replace"), 30, "the bridge to fail")
    wait_for(lambda: "cannot read the epoch key" in worker.log_path.read_text(errors="replace"), 30,
             "the worker to fail on Redis")
    shown: dict[str, Any] = {
        "bridge log": bridge.log_path.read_text(errors="replace"),
        "worker log": worker.log_path.read_text(errors="replace"),
        "bridge /health": body(bridge.urls["health"]),
        "bridge /ready": body(bridge.urls["health"].replace("/health", "/ready")),
        "worker /health": body(worker.urls["health"]),
        "worker /ready": body(worker.urls["health"].replace("/health", "/ready")),
    }
    for where, text in shown.items():
        text = json.dumps(text)
        assert API_KEY not in text and PASSWORD not in text, f"{where} shows a secret"
    # What was redacted is still there to read, masked.
    assert f"127.0.0.1:{nobody}/v3/***" in shown["bridge log"] or "/v3/***" in shown["bridge /health"][1]
    assert shown["bridge /health"][0] == 503 and "not connected" in shown["bridge /health"][1]
