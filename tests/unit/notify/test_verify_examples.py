"""The signature checks in examples/ (what the README shows receivers) accept what the notifier
signs (pads_stream.notify.signature.sign) and refuse a tampered body, a wrong secret and an old
time stamp. The Node one runs under `node`, as a receiver would run it."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pads_stream.notify.signature import sign

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SECRET = "whsec_0123456789abcdef"
BODY = (b'{"data":{"observed":"0.0000000625","owner":"alice","rule_id":"r_7f3c","rule_type":"price_above",'
        b'"value":"0.00000005"},"id":"249a6e4394a9f39af7ca1225e9c231a2","type":"alert"}')
TAMPERED = BODY.replace(b"0.0000000625", b"0.0000000626")


def _python(header: str, body: bytes, secret: str = SECRET) -> bool:
    spec = importlib.util.spec_from_file_location("verify_webhook", EXAMPLES / "verify_webhook.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return bool(module.verify(secret, header, body))


def _python_cli(header: str, body: bytes, secret: str = SECRET) -> bool:
    run = subprocess.run([sys.executable, str(EXAMPLES / "verify_webhook.py"), header], input=body,
                         env={**os.environ, "WEBHOOK_SECRET": secret}, capture_output=True, timeout=30)
    return run.returncode == 0


def _node(header: str, body: bytes, secret: str = SECRET) -> bool:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    run = subprocess.run([node, str(EXAMPLES / "verify_webhook.js"), header], input=body,
                         env={**os.environ, "WEBHOOK_SECRET": secret}, capture_output=True, timeout=30)
    assert run.returncode in (0, 1), run.stderr.decode()
    return run.returncode == 0


@pytest.mark.parametrize("check", [_python, _python_cli, _node])
def test_the_examples_accept_what_the_notifier_signs_and_nothing_else(check) -> None:  # type: ignore[no-untyped-def]
    now = int(time.time())
    header = sign(SECRET, now, BODY)
    assert check(header, BODY)
    assert not check(header, TAMPERED)
    assert not check(header, BODY, secret=SECRET + "x")
    assert not check(sign(SECRET, now - 3600, BODY), BODY)  # a capture replayed an hour later
    assert not check(header.replace("v1=", "v0="), BODY)
    # A sender rotating secrets signs with both: either one is enough.
    assert check(f"{header},v1={sign('another-secret-0000', now, BODY).split('v1=')[1]}", BODY)
