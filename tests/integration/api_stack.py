"""The HTTP API as a subprocess on a deployment's Redis and chain id (`python -m pads_stream api`).

Import the `api` fixture into a test module: `from .api_stack import api  # noqa: F401`.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from stack.process import ROOT, Service, free_port, spawn

from . import oracle
from .conftest import Deployment, wait_for

# The worker and the API of these tests fold and serve exactly the intervals the oracle recomputes.
INTERVALS = ",".join(oracle.INTERVALS)


@dataclass
class Api:
    url: str
    svc: Service

    def get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def ok(self, path: str) -> Any:
        status, body = self.get(path)
        assert status == 200, f"GET {path}: {status} {body}"
        return body


def start_api(d: Deployment, **extra: str) -> Api:
    port = free_port()
    env = {**os.environ, **d.env, "API_HOST": "127.0.0.1", "API_PORT": str(port), "OHLCV_INTERVALS": INTERVALS,
           "API_PUSH_URL": d.backend_url, **extra}
    svc = spawn("api", [sys.executable, "-m", "pads_stream", "api"], d.dir / "api.log", cwd=ROOT, env=env)
    d.procs.append(svc)
    api = Api(f"http://127.0.0.1:{port}", svc)

    def up() -> bool:
        if svc.proc.poll() is not None:
            raise AssertionError(f"the API exited:\n{svc.log_tail()}")
        try:
            return api.get("/health")[0] == 200
        except OSError:
            return False

    wait_for(up, 30, "the API to answer /health")
    return api


@pytest.fixture
def api(deployment: Deployment) -> Iterator[Api]:
    yield start_api(deployment)
