"""Redis over TLS with an ACL user: the whole pipeline, the ops commands, and a wrong
password that stops the worker at start-up with a clear error."""

from __future__ import annotations

import os
import subprocess
import sys

import redis

from stack import redis as local_redis
from stack.process import ROOT

from .conftest import Deployment
from .test_pipeline import assert_exact

PASSWORD = "tls-acl-pw-7781"


def test_the_pipeline_runs_on_redis_over_tls_with_an_acl_user(deployment: Deployment) -> None:
    d = deployment
    own = local_redis.start_tls(d.dir / "redis-tls", "pads-worker", PASSWORD)
    d.procs.append(own)
    d.env["REDIS_URL"] = url = own.urls["REDIS_URL"]
    assert url.startswith("rediss://pads-worker:") and "ssl_cert_reqs=required" in url
    d.redis = redis.Redis.from_url(url)
    curve = d.pad.create_curve("Tls", "TLS")
    d.start_bridge()
    d.start_worker()
    for i in range(3):
        d.pad.buy(curve, d.pad.accounts[2 + i], 10**17)
    assert_exact(d, timeout=60)
    assert d.checksum().startswith("sha256:")  # the ops commands speak TLS and ACL too

    bad = {**os.environ, **d.env, "REDIS_URL": url.replace(PASSWORD, "wrong-password"),
           "DATA_DIR": str(d.dir / "bad-worker"), "WEB_PORT": "0"}
    out = subprocess.run([sys.executable, "-m", "pads_stream", "checksum"], env=bad, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "Redis refused the user or password" in out.stderr, out.stderr
    assert "wrong-password" not in out.stderr + out.stdout
    worker = subprocess.Popen([sys.executable, "-m", "faust", "-A", "pads_stream", "worker", "-l", "info"], env=bad,
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = worker.communicate(timeout=90)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode != 0, output[-2000:]
    assert "REDIS_URL: Redis refused the user or password" in output, output[-2000:]
    assert "wrong-password" not in output
