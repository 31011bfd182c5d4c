"""Secrets stay out of what we print: URLs with credentials, in logs and error texts."""

from __future__ import annotations

import io
import logging

import pytest

from pads_stream.redact import RedactingFilter, redact


@pytest.mark.parametrize(("text", "shown"), [
    ("redis://default:s3cr3t@redis:6379/0", "redis://default:***@redis:6379/0"),
    ("rediss://:hunter2@cache.example.com:6380", "rediss://:***@cache.example.com:6380"),
    ("wss://eth-mainnet.g.alchemy.com/v2/AbCdEfGhIjKlMnOpQrStUv12", "wss://eth-mainnet.g.alchemy.com/v2/***"),
    ("wss://mainnet.infura.io/ws/v3/0123456789abcdef0123456789abcdef", "wss://mainnet.infura.io/ws/v3/***"),
    ("https://rpc.example.com/?apikey=K3Y&chain=1", "https://rpc.example.com/?apikey=***&chain=1"),
    ("http://node:8545/rpc?token=abc;x=1", "http://node:8545/rpc?token=***;x=1"),
    ("ConnectionError('wss://u:p@host/v3/0123456789abcdefghij0123')",
     "ConnectionError('wss://u:***@host/v3/***')"),
    # Nothing secret: unchanged.
    ("ws://127.0.0.1:8545", "ws://127.0.0.1:8545"),
    ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    ("http://127.0.0.1:6066/health", "http://127.0.0.1:6066/health"),
    ("topic pads.chain-logs[3]@1200", "topic pads.chain-logs[3]@1200"),
    ("token 0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1 traded", "token 0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1 traded"),
])
def test_credentials_in_urls_are_masked(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_a_log_line_and_its_exception_are_redacted() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactingFilter())
    log = logging.getLogger("test-redact")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.error("cannot reach %s", "redis://default:s3cr3t@redis:6379/0")
        try:
            raise OSError("connect to wss://mainnet.infura.io/ws/v3/0123456789abcdef0123456789abcdef failed")
        except OSError:
            log.exception("bridge: the node failed")
    finally:
        log.removeHandler(handler)
    text = out.getvalue()
    assert "s3cr3t" not in text and "0123456789abcdef0123456789abcdef" not in text
    assert "redis://default:***@redis:6379/0" in text and "wss://mainnet.infura.io/ws/v3/***" in text
    assert "Traceback" in text  # the exception is still shown
