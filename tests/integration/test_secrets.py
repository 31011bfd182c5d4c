"""Secrets stay out of what the processes print: credentials in BLOCKCHAIN_WS_URL (an API key
in the path, as providers do), in REDIS_URL (a password) and KAFKA_SASL_PASSWORD, with each
connection failing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any

from stack.process import ROOT, free_port

from .conftest import Deployment, wait_for

API_KEY = "SeCrEtApIkEy0123456789abcdefXYZ"
PASSWORD = "r3d1s-S3cr3t-Pw"
KAFKA_PASSWORD = "k4fk4-S3cr3t-Pw"


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


def test_the_kafka_password_never_reaches_output_when_kafka_cannot_be_reached(deployment: Deployment) -> None:
    """SASL settings with a password, and nothing listening at KAFKA_BOOTSTRAP_SERVERS: the
    bridge, the worker and an ops command stop at start-up saying Kafka did not answer, and no
    line of theirs holds the password. (A broker that goes away later: test_kafka_security.)"""
    d = deployment
    env = {**os.environ, **d.env, "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
           "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
           "KAFKA_SASL_USERNAME": "pads", "KAFKA_SASL_PASSWORD": KAFKA_PASSWORD, "LOG_LEVEL": "DEBUG",
           "BRIDGE_WEB_PORT": "0", "WEB_PORT": "0", "DATA_DIR": str(d.dir / "worker-data")}
    runs = {
        "bridge": [sys.executable, "-m", "bridge"],
        "worker": [sys.executable, "-m", "faust", "-A", "pads_stream", "worker", "-l", "debug"],
        "check": [sys.executable, "-m", "pads_stream", "check", "--no-progress"],
    }
    for name, cmd in runs.items():
        out = subprocess.run(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=120)
        assert out.returncode != 0, f"{name} went on without Kafka:\n{out.stdout[-2000:]}"
        assert "Unable to bootstrap" in out.stdout or "cannot reach" in out.stdout, out.stdout[-2000:]
        assert KAFKA_PASSWORD not in out.stdout, f"{name} printed the Kafka password"
    # A settings error about the password does not echo it either.
    bad = {**env, "KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"}
    out = subprocess.run(runs["check"], env=bad, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "KAFKA_SASL_PASSWORD: set, but KAFKA_SECURITY_PROTOCOL=PLAINTEXT" in out.stderr
    assert KAFKA_PASSWORD not in out.stdout + out.stderr
